/**
 * The one part of a `multipart/form-data` body the server needs: the file of a named field
 * (RFC 7578, with the multipart syntax of RFC 2046 §5.1.1: parts separated by CRLF "--" boundary,
 * each a block of header lines, an empty line and the content; the last boundary ends in "--").
 */
import { AlexNetError } from '../errors';

/** A request body that does not follow the multipart syntax, or lacks the field. */
export class MultipartError extends AlexNetError {
  override name = 'MultipartError';
}

export interface FormFile {
  bytes: Uint8Array;
  /** The part's `filename` parameter, if any. */
  filename?: string;
}

/** The `boundary` parameter of a `multipart/form-data` content type, or null for another type. */
export function multipartBoundary(contentType: string | undefined): string | null {
  if (!contentType || !/^multipart\/form-data\s*(;|$)/i.test(contentType)) return null;
  const match = /;\s*boundary=(?:"([^"]+)"|([^\s;]+))/i.exec(contentType);
  const boundary = match?.[1] ?? match?.[2];
  // RFC 2046 §5.1.1: 1 to 70 characters.
  if (!boundary || boundary.length > 70) {
    throw new MultipartError('multipart/form-data without a valid boundary parameter');
  }
  return boundary;
}

/** A header parameter such as `name="file"` of a Content-Disposition line. */
function parameter(header: string, key: string): string | undefined {
  const match = new RegExp(`;\\s*${key}="([^"]*)"`, 'i').exec(header);
  return match?.[1];
}

/** The content of the part whose Content-Disposition names `field`. */
export function formFile(body: Uint8Array, boundary: string, field: string): FormFile {
  const buffer = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  const delimiter = Buffer.from(`--${boundary}`);
  let at = buffer.indexOf(delimiter);
  if (at < 0) throw new MultipartError(`multipart body without its boundary '${boundary}'`);
  for (;;) {
    at += delimiter.length;
    if (buffer.subarray(at, at + 2).toString() === '--') break;
    const headersEnd = buffer.indexOf('\r\n\r\n', at);
    if (headersEnd < 0)
      throw new MultipartError('multipart part without the blank line after its headers');
    const next = buffer.indexOf(Buffer.concat([Buffer.from('\r\n'), delimiter]), headersEnd);
    if (next < 0) throw new MultipartError('multipart body ends before its closing boundary');
    const headers = buffer.subarray(at, headersEnd).toString('latin1').split('\r\n');
    const disposition = headers.find((line) => /^content-disposition:/i.test(line)) ?? '';
    if (parameter(disposition, 'name') === field) {
      const filename = parameter(disposition, 'filename');
      return {
        bytes: buffer.subarray(headersEnd + 4, next),
        ...(filename !== undefined ? { filename } : {}),
      };
    }
    at = next + 2;
  }
  throw new MultipartError(`multipart body without a '${field}' field`);
}
