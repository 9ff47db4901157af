export { csvRecords, csvLine, decodeInventoryKey, encodeInventoryKey } from './inventory-csv';
export {
  InventoryError,
  canonicalColumn,
  inventorySourceBucketOf,
  isInventoryManifestUri,
  parquetColumn,
  parseInventoryManifest,
  readInventoryManifest,
  resolveInventoryManifest,
  type InventoryFile,
  type InventoryFormat,
  type InventoryManifest,
  type ReadInventoryManifestOptions,
  type ResolvedInventory,
} from './inventory-manifest';
export { InventoryReader, type InventoryRow, type InventoryRowsOptions } from './inventory-reader';
