/**
 * A large answer as a stream of JSON text, one row at a time, so the gateway
 * never holds the whole answer as one string (the 500 "Invalid string length"
 * of issue 10, and a doubled peak while it was built). Back-pressure comes
 * from the socket: a row is stringified only when the client has read the last.
 */
import { Readable } from "node:stream";

/** Answers estimated above this go out streamed; below, one JSON.stringify is faster. */
export const STREAM_ABOVE_BYTES = 1024 * 1024;

export function answerStream(answer: { model: unknown; results: readonly unknown[] }): Readable {
  function* pieces(): Generator<string> {
    yield `{"model":${JSON.stringify(answer.model)},"results":[`;
    for (let i = 0; i < answer.results.length; i++) yield (i === 0 ? "" : ",") + JSON.stringify(answer.results[i]);
    yield "]}";
  }
  return Readable.from(pieces(), { objectMode: false });
}
