/** Types of tools/run-app.mjs (plain JavaScript: it runs before tsx is loaded). */
export type Entry = 'bundle' | 'source';
export function chooseEntry(root: string, app: string, env?: NodeJS.ProcessEnv): Entry;
export function bundleIsCurrent(root: string, app: string): boolean;
export function runApp(root: string, app: string): Promise<void>;
export function shareCompileCache(cache: { status: number; directory?: string; message?: string } | undefined, env?: Record<string, string | undefined>): void;
export const ALLOCATOR_TUNABLES: string;
export function allocatorRestartEnv(app: string, argv?: readonly string[], env?: NodeJS.ProcessEnv, libc?: () => 'glibc' | 'other'): NodeJS.ProcessEnv | undefined;
