/**
 * The TLS flags, declared once: the three of every listener (shard and
 * gateway) and the four the gateway dials its shards with. Files are checked
 * readable here, at the edge, so a typo exits 2 naming the flag rather than
 * failing at the first connection.
 */
import { accessSync, constants } from "node:fs";
import type { DialTls, ServingTls } from "../../shared/grpc/tls.js";
import { flag, UsageError, ValueError } from "./flags.js";
import { nonEmpty } from "./values.js";

export function readableFile(raw: string): string {
  if (raw.trim() === "") throw new ValueError("expected a file path");
  try {
    accessSync(raw, constants.R_OK);
  } catch {
    throw new ValueError(`cannot read ${JSON.stringify(raw)}`);
  }
  return raw;
}

const pemFile = (help: string) => flag.optional({ metavar: "FILE", help, parse: readableFile });

export const SERVING_TLS_FLAGS = {
  "tls-cert": pemFile("PEM certificate (chain) of this listener; with --tls-key turns on TLS (re-read when the file changes)"),
  "tls-key": pemFile("PEM private key of --tls-cert"),
  "tls-client-ca": pemFile("PEM CA bundle: clients must present a certificate it signed (mutual TLS); needs --tls-cert"),
};

export const SHARD_TLS_FLAGS = {
  "shard-tls-ca": pemFile("dial shards over TLS, trusting this PEM CA bundle (re-read when it changes)"),
  "shard-tls-cert": pemFile("dial shards over TLS presenting this PEM client certificate (for shards with --tls-client-ca)"),
  "shard-tls-key": pemFile("PEM private key of --shard-tls-cert"),
  "shard-tls-server-name": flag.optional({
    metavar: "NAME",
    help: "name the shards' certificates carry, when it is not the dialled host",
    parse: nonEmpty("a DNS name"),
  }),
};

type Values<K extends string> = { readonly [name in K]: string | undefined };

export function servingTls(v: Values<keyof typeof SERVING_TLS_FLAGS>): ServingTls | undefined {
  const cert = v["tls-cert"];
  const key = v["tls-key"];
  if ((cert === undefined) !== (key === undefined)) throw new UsageError("--tls-cert and --tls-key go together");
  if (cert === undefined || key === undefined) {
    if (v["tls-client-ca"] !== undefined) throw new UsageError("--tls-client-ca needs --tls-cert and --tls-key (mutual TLS is TLS first)");
    return undefined;
  }
  return { certFile: cert, keyFile: key, clientCaFile: v["tls-client-ca"] };
}

export function dialTls(v: Values<keyof typeof SHARD_TLS_FLAGS>): DialTls | undefined {
  const cert = v["shard-tls-cert"];
  const key = v["shard-tls-key"];
  if ((cert === undefined) !== (key === undefined)) throw new UsageError("--shard-tls-cert and --shard-tls-key go together");
  const any = Object.keys(SHARD_TLS_FLAGS).some((name) => v[name as keyof typeof SHARD_TLS_FLAGS] !== undefined);
  if (!any) return undefined;
  return { caFile: v["shard-tls-ca"], certFile: cert, keyFile: key, serverName: v["shard-tls-server-name"] };
}
