// A check that declares an output decoder (capture: a pcap as base64 lines in the log) has its
// output streamed through the decoder while it runs: the decoded bytes go straight to a file, so
// memory stays flat however large the artifact, and interpret() gets the decoder's text instead of
// the encoded body. The decoding itself is pure (src/checks); the file I/O is here.
import { createWriteStream } from 'node:fs';
import { rm, stat } from 'node:fs/promises';
import { Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { DecodedOutput, IncrementalDecoder, OutputDecoder } from '../checks/types.js';

/** A check's decoder applied to one run: where the artifact goes and the most bytes to keep. */
export interface ArtifactRequest {
  decoder: OutputDecoder;
  maxBytes: number;
  /** The file to write; removed again when the artifact holds nothing worth keeping. */
  path: string;
}

/** The file a run left behind, when its artifact holds anything (a pcap with packets). */
export interface Artifact {
  path: string;
  bytes: number;
}

export interface DecodedLogOptions {
  /** Where the decoded bytes go, e.g. fs.createWriteStream(path). Without one, only the text is made. */
  sink?: NodeJS.WritableStream;
  /** End the sink when the log ends and wait until it has flushed (default true). */
  endSink?: boolean;
}

/**
 * A Writable that takes the output (Buffers or strings, cut anywhere), runs it through an
 * incremental decoder and writes the decoded bytes to `sink`, honouring the sink's backpressure.
 * After 'finish' (or `await log.done`), result() gives the decoder's result.
 *
 *   const log = new DecodedLog(check.decoder.create(maxBytes), { sink: createWriteStream(path) });
 *   await pipeline(output, log);                  // or write()/end() by hand
 *   const { text } = log.result();                // text → splitOutput → check.interpret
 */
export class DecodedLog<R extends DecodedOutput = DecodedOutput> extends Writable {
  private readonly sink: NodeJS.WritableStream | undefined;
  private readonly endSink: boolean;
  private finalResult?: R;
  /** Resolves with the result once the output has ended and the sink has flushed. */
  readonly done: Promise<R>;

  constructor(
    private readonly decoder: IncrementalDecoder<R>,
    options: DecodedLogOptions = {},
  ) {
    super({ highWaterMark: 64 * 1024 });
    this.sink = options.sink;
    this.endSink = options.endSink ?? true;
    this.done = new Promise((resolve, reject) => {
      this.once('finish', () => resolve(this.result()));
      this.once('error', reject);
    });
    // Nobody may be awaiting `done`; the error still reaches 'error' listeners and pipeline().
    this.done.catch(() => undefined);
  }

  /** What the decoder has decoded so far (capture: packets), if it says. */
  progress(): { packets: number } | undefined {
    return this.decoder.progress?.();
  }

  /** The decoder's result; valid once the stream has finished. */
  result(): R {
    if (this.finalResult) return this.finalResult;
    throw new Error('DecodedLog.result() is only available after the output has ended');
  }

  override _write(chunk: Buffer | string, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    let out: Buffer[];
    try {
      out = this.decoder.push(chunk);
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.toSink(out).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    const finish = async (): Promise<void> => {
      await this.toSink(this.decoder.end());
      if (this.sink && this.endSink) {
        this.sink.end();
        await finished(this.sink);
      }
      this.finalResult = this.decoder.result();
    };
    finish().then(() => callback(), callback);
  }

  private async toSink(out: Buffer[]): Promise<void> {
    const sink = this.sink;
    if (!sink || out.length === 0) return;
    let ok = true;
    for (const bytes of out) ok = sink.write(bytes) && ok;
    if (ok) return;
    await new Promise<void>((resolve, reject) => {
      const cleanup = () => {
        sink.removeListener('drain', onDrain);
        sink.removeListener('error', onError);
        sink.removeListener('close', onClose);
      };
      const onDrain = () => {
        cleanup();
        resolve();
      };
      const onError = (err: Error) => {
        cleanup();
        reject(err);
      };
      const onClose = () => {
        cleanup();
        reject(new Error('the output file closed before the decoded output was written'));
      };
      sink.on('drain', onDrain);
      sink.on('error', onError);
      sink.on('close', onClose);
    });
  }
}

/** A fresh DecodedLog for one run, writing its artifact to `request.path`. */
export function decodeToFile(request: ArtifactRequest): DecodedLog {
  return new DecodedLog(request.decoder.create(request.maxBytes), { sink: createWriteStream(request.path) });
}

/**
 * After the run: the artifact when the log ended and the decoder found something worth keeping;
 * otherwise the file is removed (a capture without packets attaches nothing).
 */
export async function keptArtifact(request: ArtifactRequest, log: DecodedLog): Promise<Artifact | undefined> {
  if (log.writableFinished && log.result().hasContent) {
    const { size } = await stat(request.path);
    if (size > 0) return { path: request.path, bytes: size };
  }
  await discardArtifact(request);
  return undefined;
}

/** Removes the artifact's file (a failed run, or nothing worth keeping). */
export async function discardArtifact(request: ArtifactRequest | undefined): Promise<void> {
  if (request) await rm(request.path, { force: true });
}
