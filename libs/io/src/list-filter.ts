import type { ListOptions, ObjectInfo } from './object-store';

export const DEFAULT_PAGE_SIZE = 1000;

/** The suffix and size filters of {@link ListOptions}, applied while streaming. */
export function listFilter(options: ListOptions): (info: ObjectInfo) => boolean {
  const suffixes = options.suffixes?.filter((suffix) => suffix !== '').map((suffix) => suffix.toLowerCase());
  const maxSize = options.maxSize;
  const filterBySuffix = suffixes !== undefined && suffixes.length > 0;
  if (!filterBySuffix && maxSize === undefined) return () => true;
  return (info) => {
    if (maxSize !== undefined && info.size > maxSize) return false;
    if (!filterBySuffix) return true;
    const key = info.key.toLowerCase();
    return suffixes.some((suffix) => key.endsWith(suffix));
  };
}

export function pageSizeOf(options: ListOptions): number {
  const size = options.pageSize ?? DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(size) || size < 1) throw new RangeError(`pageSize must be a positive integer, got ${size}`);
  return Math.min(size, DEFAULT_PAGE_SIZE);
}
