// A debug container's log as text, kept while it is followed, and told when it is complete.
//
// The answer is read from the followed log the moment the container's last step has printed its
// end, not when the node reports the container terminated: a kubelet notices an exit on its next
// relist (every second) and only then updates the pod, after which the watch event and a log read
// add two more round trips. Who follows decides what "complete" means (the runner: the script's
// last end line, src/runner/script.ts); this module only keeps the text and asks.
import { Writable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';

export class LogText extends Writable {
  private readonly decoder = new StringDecoder('utf8');
  private soFar = '';
  private readonly completion = new AbortController();

  /** `isComplete(text)` is asked after every chunk until it says yes. */
  constructor(private readonly isComplete: (text: string) => boolean) {
    super();
  }

  /** The text followed so far (all of it once `complete` has aborted). */
  get text(): string {
    return this.soFar;
  }

  /** Aborts once the text is complete: nothing the container prints later can change the answer. */
  get complete(): AbortSignal {
    return this.completion.signal;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.soFar += this.decoder.write(chunk);
    if (!this.completion.signal.aborted && this.isComplete(this.soFar)) this.completion.abort();
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.soFar += this.decoder.end();
    if (!this.completion.signal.aborted && this.isComplete(this.soFar)) this.completion.abort();
    callback();
  }
}
