// The public API of nestjs-sip, and nothing else.
export * from './message/index.js';
export * from './transport/index.js';
export {
  TransactionLayer,
  ServerTransaction,
  InviteServerTransaction,
  NonInviteServerTransaction,
  ClientTransaction,
  InviteClientTransaction,
  NonInviteClientTransaction,
  TransactionStats,
  SipTimeoutError,
  SipTransactionError,
  SipCancelledError,
  SipServerTimeoutError,
  resolveTimers,
  DEFAULT_T1,
  DEFAULT_T2,
  DEFAULT_T4,
  buildAckFor2xx,
  buildAckForNon2xx,
  buildCancel,
  type TransactionLayerOptions,
  type TransactionLayerHooks,
  type ServerTransactionEvents,
  type TransactionResponseOptions,
  type ClientTransactionHandlers,
  type SipTransactionErrorCode,
  type TimerOptions,
  type TimerValues,
  type SipDestination,
  type SipPeer,
  type SipTransportProto,
  type TransactionTransport,
  type ServerTransactionState,
  type ClientTransactionState,
} from './transaction/index.js';
export {
  SipDialog,
  DialogLayer,
  MemoryDialogStore,
  SipDialogError,
  dialogKey,
  buildInDialogRequest,
  localContact,
  type DialogLayerOptions,
  type DialogStore,
  type DialogRefusal,
  type DialogState,
  type DialogRole,
  type DialogEnd,
  type DialogEndReason,
  type DialogRequestOptions,
  type DialogSender,
  type DialogFlow,
  type ContactLeg,
} from './dialog/index.js';
export * from './auth/index.js';
export * from './proxy/index.js';
export * from './registrar/index.js';
export * from './observe/index.js';
export * from './nest/index.js';
