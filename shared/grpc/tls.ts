/**
 * TLS for every gRPC listener and for the gateway's calls to its shards, from
 * PEM files that are re-read when they change (files/watched-files.ts): a
 * rotated certificate is used by new connections, and connections already
 * open finish their calls on the old one, so no call fails.
 */

import { createSecureContext, rootCertificates, type SecureContextOptions } from "node:tls";
import * as grpc from "@grpc/grpc-js";
import type { CaCertificateUpdateListener, CertificateProvider, IdentityCertificateUpdateListener } from "@grpc/grpc-js/build/src/certificate-provider.js";
import { WatchedFiles } from "../files/watched-files.js";
import type { Logger } from "../log.js";

/** A listener's certificate and key; with `clientCaFile`, clients must present a certificate signed by that CA (mTLS). */
export interface ServingTls {
  certFile: string;
  keyFile: string;
  clientCaFile?: string | undefined;
}

/** How a client dials: the CA that signed the servers (unset: the system's roots), its own certificate, and the name to expect. */
export interface DialTls {
  caFile?: string | undefined;
  certFile?: string | undefined;
  keyFile?: string | undefined;
  serverName?: string | undefined;
}

/** How often certificate files are read again when no change event came (fs.watch can miss a Secret update). */
export const TLS_POLL_MS = 5000;

export interface Pem {
  cert?: Buffer;
  key?: Buffer;
  ca?: Buffer;
}

/** PEM files kept current; each accepted version is one Node secure context can be built from. */
export class PemFiles {
  private readonly files: WatchedFiles<Pem>;
  private readonly listeners = new Set<(pem: Pem) => void>();

  constructor(paths: { cert?: string | undefined; key?: string | undefined; ca?: string | undefined }, log: Logger, pollMs = TLS_POLL_MS) {
    const names = (["cert", "key", "ca"] as const).filter((name) => paths[name] !== undefined);
    this.files = new WatchedFiles(
      names.map((name) => paths[name]!),
      {
        pollMs,
        load: (contents) => {
          const pem: Pem = {};
          names.forEach((name, i) => (pem[name] = contents[i]!));
          // Throws on a key that does not match its certificate, or a file that is not PEM.
          createSecureContext({ ...pem });
          return pem;
        },
        onChange: (pem) => {
          log.info("certificates reloaded", { files: names.map((n) => paths[n]).join(",") });
          for (const listener of this.listeners) listener(pem);
        },
        onRejected: (err) => log.warn("certificate files changed but cannot be used; keeping the last good ones", { error: err.message }),
      },
    );
  }

  get pem(): Pem {
    return this.files.value;
  }

  onChange(listener: (pem: Pem) => void): void {
    this.listeners.add(listener);
  }

  /** Re-reads now; resolves once a change, if any, has been applied. */
  check(): Promise<void> {
    return this.files.check();
  }

  close(): void {
    this.listeners.clear();
    this.files.close();
  }
}

/** Node's secure-server options for a listener (REST's https, or the context grpc-js sets). */
export function serverContext(pem: Pem): SecureContextOptions {
  return { cert: pem.cert, key: pem.key, ...(pem.ca ? { ca: pem.ca } : {}) };
}

/** A grpc-js ServerCredentials whose secure context follows the files; grpc-js applies each update with setSecureContext. */
class RotatingServerCredentials extends grpc.ServerCredentials {
  constructor(files: PemFiles, requireClientCert: boolean) {
    super({ requestCert: requireClientCert, rejectUnauthorized: requireClientCert }, serverContext(files.pem));
    files.onChange((pem) => this.updateSecureContextOptions(serverContext(pem)));
  }

  _equals(other: grpc.ServerCredentials): boolean {
    return other === this;
  }
}

export interface ServerTlsHandle {
  credentials: grpc.ServerCredentials;
  close(): void;
}

export function serverCredentials(tls: ServingTls | undefined, log: Logger): ServerTlsHandle {
  if (!tls) return { credentials: grpc.ServerCredentials.createInsecure(), close() {} };
  const files = new PemFiles({ cert: tls.certFile, key: tls.keyFile, ca: tls.clientCaFile }, log);
  return { credentials: new RotatingServerCredentials(files, tls.clientCaFile !== undefined), close: () => files.close() };
}

/** Serves one side (CA or identity) of PemFiles to grpc-js's channel credentials. */
class PemProvider implements CertificateProvider {
  private readonly ca = new Set<CaCertificateUpdateListener>();
  private readonly identity = new Set<IdentityCertificateUpdateListener>();

  constructor(private readonly files: PemFiles) {
    files.onChange(() => {
      for (const listener of this.ca) listener(this.caUpdate());
      for (const listener of this.identity) listener(this.identityUpdate());
    });
  }

  private caUpdate() {
    return { caCertificate: this.files.pem.ca ?? Buffer.from(rootCertificates.join("\n")) };
  }

  private identityUpdate() {
    const { cert, key } = this.files.pem;
    return cert && key ? { certificate: cert, privateKey: key } : null;
  }

  addCaCertificateListener(listener: CaCertificateUpdateListener): void {
    this.ca.add(listener);
    process.nextTick(listener, this.caUpdate());
  }

  removeCaCertificateListener(listener: CaCertificateUpdateListener): void {
    this.ca.delete(listener);
  }

  addIdentityCertificateListener(listener: IdentityCertificateUpdateListener): void {
    this.identity.add(listener);
    process.nextTick(listener, this.identityUpdate());
  }

  removeIdentityCertificateListener(listener: IdentityCertificateUpdateListener): void {
    this.identity.delete(listener);
  }
}

export interface ChannelTlsHandle {
  credentials: grpc.ChannelCredentials;
  /** Channel options the credentials need (the expected server name). */
  options: grpc.ChannelOptions;
  close(): void;
}

/** One credentials object for every shard channel; new connections use the latest files. */
export function channelCredentials(tls: DialTls | undefined, log: Logger): ChannelTlsHandle {
  if (!tls) return { credentials: grpc.credentials.createInsecure(), options: {}, close() {} };
  const files = new PemFiles({ cert: tls.certFile, key: tls.keyFile, ca: tls.caFile }, log);
  const provider = new PemProvider(files);
  const credentials = grpc.experimental.createCertificateProviderChannelCredentials(provider, tls.certFile ? provider : null);
  const options = tls.serverName ? { "grpc.ssl_target_name_override": tls.serverName, "grpc.default_authority": tls.serverName } : {};
  return { credentials, options, close: () => files.close() };
}
