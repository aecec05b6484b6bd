/** Binding and draining a grpc-js server, the same way for every process. */
import * as grpc from "@grpc/grpc-js";

/** Binds `host:port` without TLS (TLS ends at the mesh or ingress); resolves to the bound port (port 0 picks one). */
export function bindInsecure(server: grpc.Server, address: string): Promise<number> {
  return bind(server, address, grpc.ServerCredentials.createInsecure());
}

/** Binds `host:port` with these credentials (shared/grpc/tls.ts for TLS); resolves to the bound port. */
export function bind(server: grpc.Server, address: string, credentials: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(address, credentials, (err, port) => (err ? reject(err) : resolve(port)));
  });
}

/** Stops taking calls and lets in-flight ones finish; after `graceMs` the rest are cut. */
export function drainWithin(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}
