import { Logger } from '@nestjs/common';
import { formatTransactionLine, TransactionLog, type TransactionLogEntry } from '../observe/index.js';

/** The transaction log a SipServer's `transactionLog` option asks for, if any. */
export function transactionLogFor(option: 'text' | 'json' | ((e: TransactionLogEntry) => void) | undefined): TransactionLog | undefined {
  if (option === undefined) return undefined;
  if (typeof option === 'function') return new TransactionLog(option);
  if (option === 'json') {
    return new TransactionLog((e) => process.stdout.write(JSON.stringify({ time: new Date().toISOString(), level: 'info', context: 'SIP', msg: 'transaction', ...e }) + '\n'));
  }
  const log = new Logger('SIP');
  return new TransactionLog((e) => log.log(formatTransactionLine(e)));
}
