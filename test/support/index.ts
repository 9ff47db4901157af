/**
 * The shared test harness, importable from specs anywhere as `@siglip-batch/testing`
 * (a vitest alias and a tsconfig path, not a package: test code only).
 */
export * from './harness';
export { freePort } from './free-port';
export { objectsOf, reportFolder, writeInventory, type InventoryObject, type WriteInventoryOptions, type WrittenInventory } from './s3-inventory';
