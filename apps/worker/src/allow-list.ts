import { parseLocation } from '@siglip-batch/io';

/**
 * The sources a worker may read (`--allow s3://bucket/prefix,file:///data`): its own
 * configuration, never the run spec in Redis, decides. An empty list allows everything.
 */
export class AllowList {
  private readonly prefixes: string[];

  constructor(uris: string[]) {
    this.prefixes = uris.map((uri) => {
      const normalised = parseLocation(uri).uri;
      return normalised.endsWith('/') ? normalised : `${normalised}/`;
    });
  }

  get empty(): boolean {
    return this.prefixes.length === 0;
  }

  allows(uri: string): boolean {
    if (this.prefixes.length === 0) return true;
    let normalised: string;
    try {
      normalised = parseLocation(uri).uri;
    } catch {
      return false;
    }
    // Path segments are compared whole: s3://b/data does not allow s3://b/database/x.
    if (/(^|\/)\.\.(\/|$)/.test(normalised)) return false;
    return this.prefixes.some((prefix) => normalised.startsWith(prefix) || `${normalised}/` === prefix);
  }

  /**
   * True when `uri` is a readable location outside the list. A URI that does not parse is not
   * refused here: it becomes an `invalid_uri` row, like any other bad input.
   */
  refuses(uri: string): boolean {
    try {
      parseLocation(uri);
    } catch {
      return false;
    }
    return !this.allows(uri);
  }

  describe(): string {
    return this.prefixes.length === 0 ? '(everything)' : this.prefixes.join(', ');
  }
}
