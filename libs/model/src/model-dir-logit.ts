/** Where a model directory's `logit_scale` and `logit_bias` come from (see `loadModelDir`). */
import { join } from 'node:path';
import { findLogitParameters, type LogitParameters } from './logit-parameters';
import { exists } from './model-dir-files';
import { scanOnnxModel } from './onnx-graph-scan';
import { readSafetensorsScalars } from './safetensors-scalars';

export type LogitSource = 'sidecar' | 'model.safetensors' | 'onnx/model.onnx';

/**
 * `logit_scale` and `logit_bias`: from the sidecar, else `model.safetensors`, else the combined
 * `onnx/model.onnx` (found by role). A model without them cannot score labels: that is a problem,
 * and so are values that are not finite.
 */
export async function findLogit(
  dir: string,
  sidecar: { logit_scale?: number | undefined; logit_bias?: number | undefined } | undefined,
  sidecarFile: string,
  problems: string[],
): Promise<{ logit: LogitParameters | undefined; logitSource: LogitSource }> {
  let logit: LogitParameters | undefined;
  let logitSource: LogitSource = 'sidecar';
  const missingFromSidecar: string[] = [];
  if (sidecar) {
    if (sidecar.logit_scale === undefined) missingFromSidecar.push('logit_scale');
    if (sidecar.logit_bias === undefined) missingFromSidecar.push('logit_bias');
    if (missingFromSidecar.length === 0) logit = { logitScale: sidecar.logit_scale!, logitBias: sidecar.logit_bias! };
  }
  const looked: string[] = [sidecar ? `${sidecarFile} (${missingFromSidecar.length ? `no ${missingFromSidecar.join(', no ')}` : 'ok'})` : `no ${sidecarFile}`];
  if (!logit && (await exists(join(dir, 'model.safetensors')))) {
    try {
      const found = await readSafetensorsScalars(join(dir, 'model.safetensors'), ['logit_scale', 'logit_bias']);
      const scale = found.get('logit_scale');
      const bias = found.get('logit_bias');
      if (scale !== undefined && bias !== undefined) {
        logit = { logitScale: scale, logitBias: bias };
        logitSource = 'model.safetensors';
      } else looked.push(`model.safetensors (no ${scale === undefined ? 'logit_scale' : 'logit_bias'})`);
    } catch (error) {
      looked.push(`model.safetensors (unreadable: ${(error as Error).message})`);
    }
  } else if (!logit) looked.push('no model.safetensors');
  if (!logit && (await exists(join(dir, 'onnx/model.onnx')))) {
    try {
      const found = findLogitParameters(await scanOnnxModel(join(dir, 'onnx/model.onnx'), { nodes: true }));
      if (found) {
        logit = found;
        logitSource = 'onnx/model.onnx';
      } else looked.push('onnx/model.onnx (no Exp(scale) · similarity + bias pattern)');
    } catch (error) {
      looked.push(`onnx/model.onnx (unreadable: ${(error as Error).message})`);
    }
  } else if (!logit) looked.push('no onnx/model.onnx');
  if (!logit) {
    const which = missingFromSidecar.length === 1 ? missingFromSidecar[0]! : 'logit_scale and logit_bias';
    problems.push(`no ${which}: looked in ${looked.join(', ')}; a model without them cannot score labels`);
  } else if (!Number.isFinite(logit.logitScale) || !Number.isFinite(logit.logitBias)) {
    problems.push(`logit_scale ${logit.logitScale} / logit_bias ${logit.logitBias} are not finite`);
  }

  return { logit, logitSource };
}
