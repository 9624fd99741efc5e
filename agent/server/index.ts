/**
 * The agent's HTTPS endpoint (logs, exec, health, stats) for the API server.
 * See server.ts for the contract.
 */
export { startAgentServer, DEFAULT_AGENT_PORT, type AgentServer, type AgentServerOptions } from './server.js';
export type { PodLookup } from './logs.js';
export { SERVING_CERT_ANNOTATION, certFingerprint, normalizeFingerprint } from './tls.js';
export { API_SERVER_CLIENT_CN } from './auth.js';
