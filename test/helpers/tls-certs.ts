/**
 * Test certificates in a temporary folder, made with openssl (the same code as
 * `shardmax local --tls`), plus a second, untrusted CA and a client
 * certificate it signed, for the refusals.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CertFiles, issue, makeCa, makeThrowawayCerts } from "../../services/cli/throwaway-certs.js";

export interface TestCerts extends CertFiles {
  dir: string;
  /** A client certificate signed by another CA than caCert. */
  strangerCert: string;
  strangerKey: string;
  /** A server certificate for the name "shard.internal" only (not the dialled 127.0.0.1). */
  namedServerCert: string;
  namedServerKey: string;
  /** A second server certificate, for rotation. */
  issue(name: string, sans: string[], usage: "serverAuth" | "clientAuth"): { cert: string; key: string };
  remove(): void;
}

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), "shardmax-certs-"));
  const files = makeThrowawayCerts(dir);
  const strangerCa = makeCa(dir, "stranger-ca");
  const stranger = issue(dir, strangerCa, "stranger", [], "clientAuth");
  const named = issue(dir, { cert: files.caCert, key: files.caKey }, "named-server", ["DNS:shard.internal"], "serverAuth");
  return {
    ...files,
    dir,
    strangerCert: stranger.cert,
    strangerKey: stranger.key,
    namedServerCert: named.cert,
    namedServerKey: named.key,
    issue: (name, sans, usage) => issue(dir, { cert: files.caCert, key: files.caKey }, name, sans, usage),
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
