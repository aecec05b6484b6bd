/**
 * A throw-away certificate authority for `shardmax local --tls` (and tests):
 * a CA, a server certificate for loopback, and a client certificate, made by
 * the `openssl` command (present wherever Node's TLS is, and no npm package
 * that downloads or bundles crypto code is needed). P-256 keys: quick to make.
 * Valid for two days; the folder is the caller's to delete.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";

export interface CertFiles {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  clientCert: string;
  clientKey: string;
}

const openssl = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
const EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];

export function makeCa(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  openssl(["req", "-x509", ...EC, "-keyout", key, "-out", cert, "-days", "2", "-subj", `/CN=${name}`]);
  return { cert, key };
}

/** A certificate signed by `ca` for these subject alternative names (e.g. DNS:localhost, IP:127.0.0.1). */
export function issue(
  dir: string,
  ca: { cert: string; key: string },
  name: string,
  sans: string[],
  usage: "serverAuth" | "clientAuth",
): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  const csr = join(dir, `${name}.csr`);
  const ext = join(dir, `${name}.ext`);
  writeFileSync(ext, `${[`extendedKeyUsage=${usage}`, ...(sans.length ? [`subjectAltName=${sans.join(",")}`] : [])].join("\n")}\n`);
  openssl(["req", ...EC, "-keyout", key, "-out", csr, "-subj", `/CN=${name}`]);
  openssl(["x509", "-req", "-in", csr, "-CA", ca.cert, "-CAkey", ca.key, "-CAcreateserial", "-out", cert, "-days", "2", "-extfile", ext]);
  return { cert, key };
}

/** CA, loopback server certificate (also named by `names`) and a client certificate, in `dir`. */
export function makeThrowawayCerts(dir: string, names: string[] = []): CertFiles {
  const ca = makeCa(dir, "shardmax-ca");
  const server = issue(dir, ca, "server", ["DNS:localhost", "IP:127.0.0.1", "IP:::1", ...names.map((n) => `DNS:${n}`)], "serverAuth");
  const client = issue(dir, ca, "client", [], "clientAuth");
  return { caCert: ca.cert, caKey: ca.key, serverCert: server.cert, serverKey: server.key, clientCert: client.cert, clientKey: client.key };
}
