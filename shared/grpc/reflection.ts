/**
 * gRPC server reflection (v1 and v1alpha, @grpc/reflection), so `grpcurl
 * list/describe` and GUI clients work without the .proto files. Each server
 * names the services it actually serves; the health service keeps its own
 * standard definition and is not described here.
 */
import type * as grpc from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";

/** A service a server can carry beside its own: its definition (for reflection), its full names, and how to add it. */
export interface ServiceModule {
  definition: PackageDefinition;
  names: string[];
  addTo(server: grpc.Server): void;
}

/** One reflection service per server, describing every module it carries. */
export function addReflection(server: Pick<grpc.Server, "addService">, modules: Pick<ServiceModule, "definition" | "names">[]): void {
  const definition = Object.assign({}, ...modules.map((m) => m.definition)) as PackageDefinition;
  new ReflectionService(definition, { services: modules.flatMap((m) => m.names) }).addToServer(server);
}
