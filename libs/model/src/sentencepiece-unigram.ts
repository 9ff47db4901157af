/**
 * SentencePiece's unigram encoder as the Python `sentencepiece` library runs it
 * (`unigram_model.cc` `EncodeOptimized`, then `SentencePieceProcessor`'s handling of unknown
 * pieces): a Viterbi best path in float32 arithmetic over the pieces that can match text,
 * an unknown character scored `min_score − 10`, consecutive unknown characters merged into
 * one `<unk>` (or, with byte fallback, spelled as `<0xXX>` byte pieces).
 */

/** The kinds of SentencePiece pieces (`ModelProto.SentencePiece.Type`). */
export type PieceType = 'normal' | 'unknown' | 'control' | 'user_defined' | 'byte' | 'unused';

export interface SentencePiece {
  readonly piece: string;
  /** The piece's log probability, a float32 value. */
  readonly score: number;
  readonly type: PieceType;
}

/** One encoded piece: its surface (for merged unknowns, the unknown text) and its id. */
export interface EncodedPiece {
  readonly piece: string;
  readonly id: number;
}

const UNK_PENALTY = 10;

export class UnigramModel {
  /** Matchable pieces (normal, user-defined, unused) by text. */
  private readonly matchable = new Map<string, number>();
  private readonly ids = new Map<string, number>();
  private readonly maxPieceChars: number;
  private readonly unkScore: number;
  private readonly maxScore: number;
  readonly unkId: number;

  constructor(
    private readonly pieces: readonly SentencePiece[],
    private readonly byteFallback = false,
  ) {
    let unkId = -1;
    let minScore = Number.POSITIVE_INFINITY;
    let maxScore = Number.NEGATIVE_INFINITY;
    let maxChars = 1;
    pieces.forEach((p, id) => {
      if (!this.ids.has(p.piece)) this.ids.set(p.piece, id);
      if (p.type === 'unknown') unkId = id;
      if (p.type === 'normal' || p.type === 'user_defined' || p.type === 'unused') {
        if (!this.matchable.has(p.piece)) this.matchable.set(p.piece, id);
        maxChars = Math.max(maxChars, [...p.piece].length);
      }
      if (p.type === 'normal') {
        minScore = Math.min(minScore, p.score);
        maxScore = Math.max(maxScore, p.score);
      }
    });
    if (unkId < 0) throw new Error('the SentencePiece model has no unknown piece');
    this.unkId = unkId;
    this.maxPieceChars = maxChars;
    this.unkScore = Math.fround(minScore - UNK_PENALTY);
    this.maxScore = maxScore;
  }

  /** The id of a piece, or the unknown id (`SentencePieceProcessor.piece_to_id`). */
  pieceToId(piece: string): number {
    return this.ids.get(piece) ?? this.unkId;
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  /** Encodes already normalised text (as `sp.encode(text, out_type=str)` after normalisation). */
  encode(normalized: string): EncodedPiece[] {
    const chars = [...normalized];
    const size = chars.length;
    // Best path ending at each character boundary: score, start, piece id (−1: none yet).
    const bestScore = new Float64Array(size + 1);
    const bestStart = new Int32Array(size + 1).fill(-1);
    const bestId = new Int32Array(size + 1).fill(-1);
    for (let start = 0; start < size; start++) {
      const tillHere = bestScore[start]!;
      let hasSingle = false;
      let candidate = '';
      const limit = Math.min(size, start + this.maxPieceChars);
      for (let end = start + 1; end <= limit; end++) {
        candidate += chars[end - 1]!;
        const id = this.matchable.get(candidate);
        if (id === undefined) continue;
        const piece = this.pieces[id]!;
        if (piece.type === 'unused') continue;
        const score =
          piece.type === 'user_defined' ? Math.fround(utf8ByteLength(candidate) * this.maxScore - 0.1) : piece.score;
        const total = Math.fround(score + tillHere);
        if (bestStart[end] === -1 || total > bestScore[end]!) {
          bestScore[end] = total;
          bestStart[end] = start;
          bestId[end] = id;
        }
        if (end === start + 1) hasSingle = true;
      }
      if (!hasSingle) {
        const end = start + 1;
        const total = Math.fround(this.unkScore + tillHere);
        if (bestStart[end] === -1 || total > bestScore[end]!) {
          bestScore[end] = total;
          bestStart[end] = start;
          bestId[end] = this.unkId;
        }
      }
    }
    const path: EncodedPiece[] = [];
    for (let end = size; end > 0; ) {
      const start = bestStart[end]!;
      path.push({ piece: chars.slice(start, end).join(''), id: bestId[end]! });
      end = start;
    }
    path.reverse();
    return this.postprocess(path);
  }

  private postprocess(path: EncodedPiece[]): EncodedPiece[] {
    const out: EncodedPiece[] = [];
    let prevUnknown = false;
    for (const p of path) {
      const unknown = p.id === this.unkId;
      if (unknown && this.byteFallback) {
        for (const byte of new TextEncoder().encode(p.piece)) {
          const piece = `<0x${byte.toString(16).toUpperCase().padStart(2, '0')}>`;
          out.push({ piece, id: this.pieceToId(piece) });
        }
      } else if (unknown && prevUnknown) {
        const last = out[out.length - 1]!;
        out[out.length - 1] = { piece: last.piece + p.piece, id: this.unkId };
      } else {
        out.push(p);
      }
      prevUnknown = unknown && !this.byteFallback;
    }
    return out;
  }
}

function utf8ByteLength(text: string): number {
  return new TextEncoder().encode(text).length;
}
