// x-request-id as Envoy's HTTP connection manager sets it before any filter runs
// (source/common/http/conn_manager_utility.cc ConnectionManagerUtility::mutateRequestHeaders,
// the "Generate x-request-id for all edge requests, or if there is none" step, and
// request_id_extension_uuid_impl.cc UUIDRequestIDExtension::set):
//   edge_request = !internal_request && use_remote_address
//   force_set    = !preserve_external_request_id && edge_request
//   set(headers, force_set): a new UUID when force_set or when the request has none.
// internal_request needs the remote address to be internal per internal_address_config,
// which is empty by default since Envoy 1.33, and Istio fills it only from meshNetworks
// (pilot/pkg/networking/core/listener_builder.go buildHTTPConnectionManager): so behind
// an Istio ingress gateway (gateway.go: useRemoteAddress true, preserve_external_request_id
// never set) every client's x-request-id is replaced; a sidecar (use_remote_address
// false) keeps it. generate_request_id (default true) is assumed on.
import { randomUUID } from 'node:crypto';
import type { HeaderMap } from './header-map.js';

export interface RequestIdOptions {
  /** HCM use_remote_address (Envoy default false; Istio gateways true). */
  useRemoteAddress: boolean;
  /** HCM preserve_external_request_id (default false; Istio never sets it). */
  preserveExternalRequestId: boolean;
  /** Envoy's random UUID (Random::RandomGenerator::uuid); injectable for replayable runs. */
  uuid: () => string;
}

export function requestIdOptions(o: Partial<RequestIdOptions>): RequestIdOptions {
  return {
    useRemoteAddress: o.useRemoteAddress ?? false,
    preserveExternalRequestId: o.preserveExternalRequestId ?? false,
    uuid: o.uuid ?? randomUUID,
  };
}

export function mutateRequestId(m: HeaderMap, o: RequestIdOptions): void {
  const edgeRequest = o.useRemoteAddress; // no address is internal (see above)
  const forceSet = edgeRequest && !o.preserveExternalRequestId;
  if (forceSet || !m.has('x-request-id')) m.setCopy('x-request-id', o.uuid());
}
