export { SipDialog, type DialogOwner, type DialogRefusal, type DialogInit } from './dialog.js';
export { DialogLayer, type DialogLayerOptions } from './dialog-layer.js';
export { MemoryDialogStore, dialogKey, type DialogStore } from './dialog-store.js';
export { buildInDialogRequest, type DialogRoute } from './in-dialog-request.js';
export { SipResponseError, SipDialogError } from './response-error.js';
export { localContact, type ContactLeg } from './contact.js';
export type { DialogState, DialogRole, DialogEnd, DialogEndReason, DialogRequestOptions, DialogSender, DialogFlow } from './types.js';
