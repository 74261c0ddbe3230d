// tandem CLI entry. Commands: validate, simulate, explain, render, playground.
import { parseArgs } from "node:util";
import { UsageError, parseArgsProblem } from "./usage-error";
import { InvalidPolicy, loadPolicy, validateCommand } from "./validate";
import { PolicyFileError } from "./policy-file";
import { TraceError, readTrace } from "./simulate/trace";
import { simulate, type Via } from "./simulate/run";
import { ENVOY_PROFILE, KONG_PROFILE } from "./simulate/result";
import { endingOnSignal, exitFlushed, installExitHandlers } from "./exit";
import { version } from "../package.json";

// One usage line per command: `tandem --help` prints them all, `tandem <command>
// --help` its own with what it does.
const COMMAND_USAGE: Record<string, string> = {
  validate: "tandem validate <policy.yaml>",
  simulate: "tandem simulate --policy <policy.yaml> --trace <trace.jsonl> [--via core|kong|envoy] [--profile kong|envoy] [--metrics] [--decisions]",
  explain: `tandem explain --policy <policy.yaml> [--headers 'name: value' ...] [--path /p] [--method GET] [--ip 1.2.3.4] [--at <time>]
                 [--seed-entropy <text>] [--trace <trace.jsonl> | --breaker-state open|half_open|half_open_full|closed]`,
  render: `tandem render <policy.yaml> [--target kong|istio|envoy|all] [--out <dir>] [--namespace <ns>] [--gateway <ns>/<name> | --gateway-api <ns>/<name>] [--host <host> ...]
                [--service <host>] [--selector <label=value,...>] [--subset-label <label>] [--image <url>] [--sha256 <hex>]
                [--istio-extension wasm-plugin|traffic-extension] [--grpc]`,
  playground: "tandem playground [--policy <policy.yaml>] [--kong-port 8000] [--envoy-port 10000] [--backend-port 9001] [--ui-port 8080] [--rps 200] [--check]",
  schema: "tandem schema",
};
const COMMAND_HELP: Record<string, string> = {
  validate: "Checks a TrafficPolicy as both gateways would: exit 0 when valid, else exit 1 with the gateways' message.",
  simulate: "Runs a trace (one JSON request a line) through the core (--via core, the default), the Kong harness or the Envoy harness\non virtual time and prints one JSON result a line. --profile (with --via core only): whose answers to dead upstreams to model.\n--metrics: then the Prometheus series the trace produced (docs/metrics.md), the same lines on every path.\n--decisions: then the decision log's lines (spec.experiment.decisionLog, docs/metrics.md), as the gateway writes them.",
  explain: "Shows, for one request, the variant and why, the sticky key, the bucket, what the gateway does, and the circuit breaker's\nanswer given a history (--trace or --breaker-state). Without a user key the request is a new user: --seed-entropy\nfixes the new id (default: the same every run).",
  render: "Writes a policy's manifests: Kong, Istio, a static Envoy config, or all (--target).",
  playground: "Starts both gateways on 127.0.0.1 in front of demo backends, sends 1,000 users through both and prints how many agree,\nthen serves a live page (--ui-port) with a load generator (--rps request pairs a second to start with) and controls,\nand prints curl lines to try. Ctrl-C stops it; --check exits after the self-check (0: all agree).",
  schema: "Prints the JSON Schema of TrafficPolicy for editors (# yaml-language-server: $schema=<file>).",
};
const USAGE = `usage:\n${Object.values(COMMAND_USAGE).map((u) => "  " + u).join("\n")}\n  tandem --version\n  tandem <command> --help\n`;

function commandHelp(cmd: string): string {
  return `usage: ${COMMAND_USAGE[cmd]}\n\n${COMMAND_HELP[cmd]}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  if (cmd !== undefined && COMMAND_USAGE[cmd] && (rest.includes("--help") || rest.includes("-h"))) {
    process.stdout.write(commandHelp(cmd));
    return 0;
  }
  switch (cmd) {
    case "validate": {
      const { positionals } = parseArgs({ args: rest, allowPositionals: true });
      if (positionals.length !== 1) throw new UsageError("validate takes one policy file");
      return validateCommand(positionals[0]);
    }
    case "simulate": {
      const { values } = parseArgs({ args: rest, options: { policy: { type: "string" }, trace: { type: "string" }, via: { type: "string", default: "core" }, profile: { type: "string" }, metrics: { type: "boolean" }, decisions: { type: "boolean" } } });
      if (!values.policy || !values.trace) throw new UsageError("simulate needs --policy and --trace");
      const via = values.via as Via;
      if (!["core", "kong", "envoy"].includes(via)) throw new UsageError(`--via must be core, kong or envoy, got ${via}`);
      if (values.profile !== undefined && !["kong", "envoy"].includes(values.profile)) throw new UsageError(`--profile must be kong or envoy, got ${values.profile}`);
      // The gateway paths answer as their gateway does: a profile only models one for the core.
      if (values.profile !== undefined && via !== "core") throw new UsageError(`--profile applies to --via core only (--via ${via} answers as ${via} does)`);
      // --via core answers dead upstreams like the gateway it models (cli/simulate/result.ts)
      const profile = values.profile === "envoy" ? ENVOY_PROFILE : KONG_PROFILE;
      const policy = loadPolicy(values.policy);
      const trace = readTrace(values.trace);
      await simulate(via, policy, trace, (line) => process.stdout.write(line + "\n"), { profile, metrics: values.metrics, decisions: values.decisions });
      return 0;
    }
    case "explain": {
      const { explainCommand, ExplainUsage } = await import("./explain");
      try { return await explainCommand(rest); } catch (e) { if (e instanceof ExplainUsage) throw new UsageError(e.message); throw e; }
    }
    case "render": {
      const { renderCommand } = await import("./render");
      return renderCommand(rest);
    }
    case "schema": {
      const { schemaCommand } = await import("./schema");
      return schemaCommand(rest);
    }
    case "playground": {
      const { playground } = await import("./playground");
      return playground(rest);
    }
    case "--version": case "-v": case "version":
      process.stdout.write(`tandem ${version}\n`);
      return 0;
    case undefined: case "help": case "--help": case "-h":
      process.stdout.write(USAGE);
      return cmd === undefined ? 2 : 0;
    default:
      throw new UsageError(`unknown command ${cmd}`);
  }
}

installExitHandlers();
// process.exit, not a natural end: whatever a command left open (a gateway, a plugin
// server) ends with it (./exit.ts), once stdout and stderr have handed the OS all that
// was written (exitFlushed: a pipe is written asynchronously).
main(process.argv.slice(2)).then(
  (code) => { if (!endingOnSignal()) exitFlushed(code); },
  (e) => {
    if (endingOnSignal()) return;
    if (e instanceof InvalidPolicy || e instanceof PolicyFileError || e instanceof TraceError) {
      process.stderr.write(`${e.message}\n`);
      process.exitCode = 1;
    } else if (e instanceof UsageError || parseArgsProblem(e) !== null) {
      process.stderr.write(`tandem: ${parseArgsProblem(e) ?? e.message}\n${USAGE}`);
      process.exitCode = 2;
    } else if (typeof e?.code === "string" && typeof e?.syscall === "string") {
      // A system call failed (writing render's --out, a playground port in use): its
      // message names the call, the path or address and the reason.
      process.stderr.write(`tandem: ${e.message}\n`);
      process.exitCode = 1;
    } else {
      process.stderr.write(`tandem: ${e?.stack ?? e}\n`);
      process.exitCode = 1;
    }
    exitFlushed(typeof process.exitCode === "number" ? process.exitCode : 1);
  },
);
