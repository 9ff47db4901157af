export { ModelCache, resolveModelLocation, type CachedModel, type ModelCacheOptions } from './model-cache';
export { defaultModelCacheRoot } from './model-cache-layout';
export { HubPullError, hubClientOptionsFromEnv, pullHubModel, type HubClientOptions, type HubPullResult } from './hub-model-pull';
export { HUB_VARIANTS, type HubVariant } from './hub-model-files';
export { validateRepoId, validateRevision, type HubModelRef } from './hub-model-ref';
