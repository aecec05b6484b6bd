/**
 * gRPC server reflection (v1 and v1alpha, @grpc/reflection), so `grpcurl
 * list/describe` and GUI clients work without the .proto files. Each server
 * names the services it actually serves; the health service keeps its own
 * standard definition and is not described here.
 */
import type * as grpc from "@grpc/grpc-js";
import type { PackageDefinition } from "@grpc/proto-loader";
import { ReflectionService } from "@grpc/reflection";

export function addReflection(server: Pick<grpc.Server, "addService">, definition: PackageDefinition, services: string[]): void {
  new ReflectionService(definition, { services }).addToServer(server);
}
