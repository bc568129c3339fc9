export { SipRegistrar, type SipRegistrarOptions, type RegistrarReply, type LookupResult, type LookupMiss } from './registrar.js';
export { aorOf } from './aor.js';
export { bindingKey, contactOf, type Binding, type BindingSource } from './binding.js';
export { LocationStoreError, type LocationStore, type BindingUpdate, type BindingChange, type UpdateResult, type UpdateRefusal } from './location-store.js';
export { applyUpdate } from './apply-update.js';
export { MemoryLocationStore, type MemoryLocationStoreOptions } from './memory-location-store.js';
export { RedisLocationStore, type RedisLocationStoreOptions, type RedisClientLike } from './redis-location-store.js';
