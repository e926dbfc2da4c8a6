/**
 * Typed errors thrown by the library. Every message names the argument (or file, or flag), what
 * was expected and what was received, in the shape sharp made familiar:
 * `Expected positive integer for batchSize but received -1 of type number`.
 */

/** Base class of every error this package throws on purpose. */
export class AlexNetError extends Error {
  override name = 'AlexNetError';
}

/** An argument has the wrong type or value. */
export class ArgumentError extends AlexNetError {
  override name = 'ArgumentError';
}

/** A tensor's shape does not fit the operation. */
export class ShapeError extends AlexNetError {
  override name = 'ShapeError';
}

/** A tensor or plan was used after `dispose()`. */
export class DisposedError extends AlexNetError {
  override name = 'DisposedError';
}

/** The native addon could not be loaded, or a device is unavailable. */
export class DeviceError extends AlexNetError {
  override name = 'DeviceError';
}

/** The training loss stopped being a finite number; the step that produced it changed nothing. */
export class NonFiniteLossError extends AlexNetError {
  override name = 'NonFiniteLossError';
  constructor(
    message: string,
    readonly step: number,
  ) {
    super(message);
  }
}

/** A file's contents do not follow its format: truncated, corrupt, or of an unsupported kind. */
export class FormatError extends AlexNetError {
  override name = 'FormatError';
}

/** The bytes are not in an image format the decoder reads (or there are none). */
export class UnsupportedFormatError extends FormatError {
  override name = 'UnsupportedFormatError';
}

/**
 * A failed read of `file` (missing, a folder, no permission) as one line naming it, for the
 * messages the CLI prints without a stack: "Cannot read x.npy: no such file or directory".
 * Errors that are not the file system's pass through unchanged.
 */
export function fileReadError(file: string, error: unknown): unknown {
  // Duck-typed: errors from Node's fs may come from another realm (a vm context, jest).
  const { code, message } = (error ?? {}) as NodeJS.ErrnoException;
  if (typeof code !== 'string' || typeof message !== 'string') return error;
  // Node's messages read "ENOENT: no such file or directory, open 'x.npy'".
  const reason = /^[A-Z]+: ([^,]*)/.exec(message)?.[1] ?? code;
  return new AlexNetError(`Cannot read ${file}: ${reason}`);
}

/** Data-parallel training cannot start or go on: no MPI backend, a bad world size, a peer failed. */
export class DistributedError extends AlexNetError {
  override name = 'DistributedError';
}

/** Writing a file failed; `code` is the system's (ENOSPC, EFBIG, EROFS, EACCES, ...). */
export class FileWriteError extends AlexNetError {
  override name = 'FileWriteError';
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

/**
 * A failed write of `file` (disk full, file too large, read-only or forbidden folder) as one
 * line naming it, the reason and the code, and what became of it (`outcome`; by default that
 * it was left as it was, as io/atomic.ts leaves it): "Cannot write runs/x/latest.safetensors:
 * no space left on device (ENOSPC); runs/x/latest.safetensors was left as it was". Errors that
 * are not the file system's pass through unchanged.
 */
export function fileWriteError(
  file: string,
  error: unknown,
  outcome = `${file} was left as it was`,
): unknown {
  const { code, message } = (error ?? {}) as NodeJS.ErrnoException;
  if (typeof code !== 'string' || typeof message !== 'string') return error;
  const reason = /^[A-Z]+: ([^,]*)/.exec(message)?.[1] ?? message;
  return new FileWriteError(`Cannot write ${file}: ${reason} (${code}); ${outcome}`, code);
}
