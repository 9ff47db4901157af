/** The ONNX files of a model directory's towers, checked against its config (see `loadModelDir`). */
import { join } from 'node:path';
import { exists } from './model-dir-files';
import { MODEL_VARIANTS, type ModelVariant } from './model-options';
import { ONNX_ELEMENT_TYPES, scanOnnxModel, type OnnxGraphSummary, type OnnxValueInfo } from './onnx-graph-scan';

/** Where each tower's ONNX file of a variant lives, relative to the model directory. */
export function towerFile(tower: 'vision' | 'text', variant: ModelVariant): string {
  const suffix = variant === 'fp32' ? '' : `_${variant}`;
  return `onnx/${tower}_model${suffix}.onnx`;
}

/** What the config says the towers must look like (undefined: the config did not say). */
export interface TowerShapes {
  numChannels: number;
  imageSize: { height: number; width: number } | undefined;
  embedDim: number | undefined;
  textLength: number | undefined;
}

export interface CheckedTowers {
  /** Variants whose two tower files are both present. */
  variants: ModelVariant[];
  visionFile: string;
  textFile: string;
  /** Element type of the vision input (`float32`, `float16`). */
  visionInputType: string;
}

/**
 * Checks both tower files of `variant`: present (with their external data), readable, with the
 * input and `pooler_output` names, types and dims the config implies. Problems go to `problems`.
 */
export async function checkTowers(dir: string, variant: ModelVariant, shapes: TowerShapes, problems: string[]): Promise<CheckedTowers> {
  const { imageSize, embedDim, textLength } = shapes;
  const variants: ModelVariant[] = [];
  for (const v of MODEL_VARIANTS) {
    if ((await exists(join(dir, towerFile('vision', v)))) && (await exists(join(dir, towerFile('text', v))))) variants.push(v);
  }
  const visionFile = towerFile('vision', variant);
  const textFile = towerFile('text', variant);
  let visionInputType = 'float32';
  for (const [tower, file] of [
    ['vision', visionFile],
    ['text', textFile],
  ] as const) {
    if (!(await exists(join(dir, file)))) {
      const others = variants.length ? ` (variants present: ${variants.join(', ')})` : '';
      problems.push(`missing ${tower} model ${file} for variant ${variant}${others}`);
      continue;
    }
    let graph: OnnxGraphSummary;
    try {
      graph = await scanOnnxModel(join(dir, file));
    } catch (error) {
      problems.push(`${file}: not a readable ONNX model (${(error as Error).message})`);
      continue;
    }
    for (const location of graph.externalDataFiles) {
      if (!(await exists(join(dir, 'onnx', location)))) problems.push(`${file}: its external data file onnx/${location} is missing`);
    }
    if (tower === 'vision') {
      const type = checkTower(file, graph, {
        input: 'pixel_values',
        inputTypes: [1, 10],
        inputDims: [undefined, shapes.numChannels, imageSize?.height, imageSize?.width],
        inputDimNames: ['batch', 'channels', 'height (preprocessor_config.json size)', 'width (preprocessor_config.json size)'],
        width: embedDim,
        widthSource: 'config.json vision_config.hidden_size',
        problems,
      });
      if (type) visionInputType = type;
    } else {
      checkTower(file, graph, {
        input: 'input_ids',
        inputTypes: [7],
        inputDims: [undefined, textLength],
        inputDimNames: ['batch', 'text length (config.json text_config.max_position_embeddings)'],
        width: embedDim,
        widthSource: 'the embedding width (config.json vision_config.hidden_size)',
        problems,
      });
    }
  }

  return { variants, visionFile, textFile, visionInputType };
}

interface TowerExpectation {
  input: string;
  inputTypes: number[];
  inputDims: Array<number | undefined>;
  inputDimNames: string[];
  width: number | undefined;
  widthSource: string;
  problems: string[];
}

/** Checks one tower's input and `pooler_output`; returns the input's element type name. */
function checkTower(file: string, graph: OnnxGraphSummary, want: TowerExpectation): string | undefined {
  const { problems } = want;
  const input = graph.inputs.find((i) => i.name === want.input);
  if (!input) {
    problems.push(`${file}: no input named ${want.input} (inputs: ${names(graph.inputs)})`);
  } else {
    if (!want.inputTypes.includes(input.elemType)) {
      problems.push(
        `${file}: input ${want.input} is ${typeName(input.elemType)}, expected ${want.inputTypes.map(typeName).join(' or ')}`,
      );
    }
    checkDims(file, input, want.inputDims, want.inputDimNames, problems);
  }
  const extraInputs = graph.inputs.filter((i) => i.name !== want.input);
  if (extraInputs.length > 0) problems.push(`${file}: unexpected inputs ${names(extraInputs)} (only ${want.input} is fed)`);
  const pooled = graph.outputs.find((o) => o.name === 'pooler_output');
  if (!pooled) {
    problems.push(`${file}: no output named pooler_output (outputs: ${names(graph.outputs)})`);
  } else {
    const width = pooled.dims[pooled.dims.length - 1];
    if (pooled.dims.length !== 2) problems.push(`${file}: pooler_output has ${pooled.dims.length} dims, expected [batch, width]`);
    else if (typeof width === 'number' && want.width !== undefined && width !== want.width) {
      problems.push(`${file}: pooler_output width ${width} differs from ${want.widthSource} = ${want.width}`);
    }
    if (pooled.elemType !== 1 && pooled.elemType !== 10) problems.push(`${file}: pooler_output is ${typeName(pooled.elemType)}, expected float32 or float16`);
  }
  return input ? typeName(input.elemType) : undefined;
}

function checkDims(
  file: string,
  value: OnnxValueInfo,
  expected: Array<number | undefined>,
  dimNames: string[],
  problems: string[],
): void {
  if (value.dims.length === 0) return; // shape not recorded: ORT checks at run time
  if (value.dims.length !== expected.length) {
    problems.push(`${file}: input ${value.name} has ${value.dims.length} dims [${value.dims.join(', ')}], expected ${expected.length}`);
    return;
  }
  expected.forEach((want, i) => {
    const got = value.dims[i];
    if (want !== undefined && typeof got === 'number' && got !== want) {
      problems.push(`${file}: input ${value.name} ${dimNames[i]} is ${got}, config says ${want}`);
    }
  });
}

function names(values: readonly OnnxValueInfo[]): string {
  return values.length ? values.map((v) => v.name).join(', ') : 'none';
}

function typeName(elemType: number): string {
  return ONNX_ELEMENT_TYPES[elemType] ?? `type ${elemType}`;
}

