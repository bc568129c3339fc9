export { B2bua, type B2buaInbound, type B2buaOutbound, type B2buaAnswer, type BridgeOptions, type BridgedCall } from './b2bua.js';
