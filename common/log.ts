/**
 * One root pino logger for the process; each component takes a child with
 * `component` set, so every line says where it came from.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

let root: Logger = pino({ level: process.env.SKIFF_LOG_LEVEL ?? 'info', base: { pid: process.pid } });

const LEVELS: readonly string[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

export function isLogLevel(s: string): s is LevelWithSilent {
  return LEVELS.includes(s);
}

/** Sets the level of the root logger and of every child taken afterwards. */
export function setLogLevel(level: LevelWithSilent): void {
  root = pino({ level, base: { pid: process.pid } });
}

export function logger(component: string): Logger {
  return root.child({ component });
}
