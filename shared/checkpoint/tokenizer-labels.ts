/**
 * Labels from a Hugging Face `tokenizer.json`: the model's vocabulary plus the
 * added tokens, each token shown as the text it stands for. The transforms
 * come from the tokenizer's own decoder spec, applied to one token at a time:
 *
 *   ByteLevel (GPT-2, Llama 3, Qwen)  "Ġthe" → " the", "Ċ" → "\n"
 *   Metaspace / Replace "▁" → " "     "▁the" → " the" (SentencePiece models)
 *   ByteFallback                       "<0x0A>" → "\n"
 *   WordPiece                          "##ing" → "ing"
 *   BPEDecoder (suffix "</w>")         "the</w>" → "the "
 *
 * A byte-level token that is only part of a UTF-8 character has no text of
 * its own; its stray bytes are shown as `<0xE2>`, the notation SentencePiece
 * uses for byte tokens, so distinct tokens keep distinct labels. Added tokens
 * (`<|endoftext|>`, `<s>`) are shown as written.
 */

import { invalidField } from "../errors.js";
import { isPlainObject } from "./tensor-info.js";

type Transform = (token: string) => string;

/** The label of every id 0 … N−1; refuses gaps, since a missing label would silently shift meaning. */
export function tokenizerLabels(json: unknown, field: string): string[] {
  if (!isPlainObject(json) || !isPlainObject(json.model)) throw invalidField(field, `is not a tokenizer.json: no "model" object`);
  const transform = tokenTransform(json.decoder, json.pre_tokenizer);
  const labels: (string | undefined)[] = [];
  const vocab = json.model.vocab;
  if (Array.isArray(vocab)) {
    // Unigram: [[token, score], …], the id is the position.
    vocab.forEach((entry, id) => {
      const token = Array.isArray(entry) ? entry[0] : undefined;
      if (typeof token !== "string") throw invalidField(field, `model.vocab[${id}] is not a [token, score] pair`);
      labels[id] = transform(token);
    });
  } else if (isPlainObject(vocab)) {
    for (const [token, id] of Object.entries(vocab)) {
      if (!Number.isSafeInteger(id) || (id as number) < 0)
        throw invalidField(field, `model.vocab maps ${JSON.stringify(token)} to ${JSON.stringify(id)}, not a token id`);
      labels[id as number] = transform(token);
    }
  } else {
    throw invalidField(field, `model.vocab is neither a {token: id} object nor a [[token, score], …] list`);
  }
  const added = json.added_tokens ?? [];
  if (!Array.isArray(added)) throw invalidField(field, `added_tokens is not a list`);
  added.forEach((entry, i) => {
    const { id, content } = isPlainObject(entry) ? entry : {};
    if (!Number.isSafeInteger(id) || (id as number) < 0 || typeof content !== "string")
      throw invalidField(field, `added_tokens[${i}] has no integer id and string content`);
    labels[id as number] = content;
  });
  // biome-ignore lint/complexity/useIndexOf: the ids can leave holes in the array, and indexOf skips holes: the gaps looked for.
  const gap = labels.findIndex((label) => label === undefined);
  if (gap >= 0) throw invalidField(field, `has no token for id ${gap} (tokens must cover every id from 0 to ${labels.length - 1})`);
  return labels as string[];
}

function tokenTransform(decoder: unknown, preTokenizer: unknown): Transform {
  const steps = flatten(decoder)
    .map(step)
    .filter((t): t is Transform => t !== null);
  // No decoder: a byte-level pre-tokenizer still means byte-level tokens.
  if (steps.length === 0 && flatten(preTokenizer).some((p) => p.type === "ByteLevel")) steps.push(byteLevel);
  return (token) => steps.reduce((text, t) => t(text), token);
}

function flatten(spec: unknown): Record<string, unknown>[] {
  if (!isPlainObject(spec)) return [];
  if (spec.type === "Sequence") {
    const parts = spec.decoders ?? spec.pretokenizers;
    return Array.isArray(parts) ? parts.flatMap(flatten) : [];
  }
  return [spec];
}

function step(spec: Record<string, unknown>): Transform | null {
  switch (spec.type) {
    case "ByteLevel":
      return byteLevel;
    case "Metaspace": {
      const replacement = typeof spec.replacement === "string" ? spec.replacement : "▁";
      return (token) => token.split(replacement).join(" ");
    }
    case "Replace": {
      const pattern = isPlainObject(spec.pattern) ? spec.pattern.String : undefined;
      const content = spec.content;
      return typeof pattern === "string" && pattern !== "" && typeof content === "string" ? (token) => token.split(pattern).join(content) : null;
    }
    case "ByteFallback":
      return (token) => {
        const byte = /^<0x([0-9A-Fa-f]{2})>$/.exec(token);
        const value = byte ? parseInt(byte[1]!, 16) : -1;
        return value >= 0 && value < 0x80 ? String.fromCharCode(value) : token;
      };
    case "WordPiece": {
      const prefix = typeof spec.prefix === "string" ? spec.prefix : "##";
      return (token) => (token.startsWith(prefix) ? token.slice(prefix.length) : token);
    }
    case "BPEDecoder": {
      const suffix = typeof spec.suffix === "string" ? spec.suffix : "</w>";
      return (token) => (token.endsWith(suffix) ? `${token.slice(0, -suffix.length)} ` : token);
    }
    default:
      // Fuse, Strip, CTC …: they act on whole sequences, not on one token's text.
      return null;
  }
}

/** GPT-2's bytes_to_unicode, inverted: the printable stand-in character → the byte it stands for. */
const BYTE_OF_CHAR: ReadonlyMap<number, number> = (() => {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const map = new Map<number, number>();
  let next = 256;
  for (let b = 0; b < 256; b++) map.set(printable(b) ? b : next++, b);
  return map;
})();

const strict = new TextDecoder("utf-8", { fatal: true });

function byteLevel(token: string): string {
  const bytes: number[] = [];
  for (const char of token) {
    const byte = BYTE_OF_CHAR.get(char.codePointAt(0)!);
    if (byte !== undefined) bytes.push(byte);
    else bytes.push(...Buffer.from(char, "utf8"));
  }
  return decodeUtf8Lossless(Uint8Array.from(bytes));
}

/** UTF-8 text where the bytes form characters, `<0xNN>` for each byte that does not. */
export function decodeUtf8Lossless(bytes: Uint8Array): string {
  try {
    return strict.decode(bytes);
  } catch {
    let out = "";
    for (let i = 0; i < bytes.length; ) {
      const length = [1, 2, 3, 4].find((n) => i + n <= bytes.length && decodes(bytes.subarray(i, i + n)));
      if (length === undefined) {
        out += `<0x${bytes[i]!.toString(16).toUpperCase().padStart(2, "0")}>`;
        i++;
      } else {
        out += strict.decode(bytes.subarray(i, i + length));
        i += length;
      }
    }
    return out;
  }
}

function decodes(bytes: Uint8Array): boolean {
  try {
    strict.decode(bytes);
    return true;
  } catch {
    return false;
  }
}
