/**
 * The API keys a gateway accepts: a file of one key per line (blank lines and
 * `#` comments skipped), re-read when it changes. Only sha256 digests are
 * kept; a presented key is hashed and compared with every digest in constant
 * time (equal-length inputs to timingSafeEqual, no early exit), so neither
 * timing nor a log line reveals a key. A caller is named by its key's digest
 * prefix, which is what quotas count under.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { ShardmaxError } from "../../shared/errors.js";
import { WatchedFiles } from "../../shared/files/watched-files.js";
import type { Logger } from "../../shared/log.js";

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest();

/** Keys from the file's text; a key with inner whitespace is a mistake (two keys on one line?), refused with its line. */
export function parseKeyFile(text: string, source: string): Buffer[] {
  const digests: Buffer[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const key = line.trim();
    if (key === "" || key.startsWith("#")) return;
    if (/\s/.test(key)) throw new ShardmaxError("INVALID_ARGUMENT", `${source}: line ${i + 1}: a key has no whitespace (one key per line)`);
    digests.push(sha256(key));
  });
  return digests;
}

export class ApiKeys {
  private readonly files: WatchedFiles<Buffer[]>;

  constructor(path: string, log: Logger, pollMs = 5000) {
    this.files = new WatchedFiles([path], {
      pollMs,
      load: ([content]) => parseKeyFile(content!.toString("utf8"), path),
      onChange: (digests) => log.info("API keys reloaded", { keys: digests.length }),
      onRejected: (err) => log.warn("API key file changed but cannot be used; keeping the last good keys", { error: err.message }),
    });
    if (this.files.value.length === 0) log.warn("API key file holds no key: every request will be refused", { file: path });
  }

  /** The caller's name (its key's digest prefix), or null for a key not in the file. */
  identify(key: string): string | null {
    const presented = sha256(key);
    let found: Buffer | null = null;
    for (const digest of this.files.value) {
      if (timingSafeEqual(digest, presented)) found = digest;
    }
    return found ? found.subarray(0, 8).toString("hex") : null;
  }

  /** Re-reads the file now (tests; production relies on the watch and the poll). */
  reload(): Promise<void> {
    return this.files.check();
  }

  close(): void {
    this.files.close();
  }
}
