import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { MemoryLocationStore, SipRegistrar, type SipServer } from 'nestjs-sip';
import { SIP_SERVER } from './calls.service.js';

/** The registrar's figures on /metrics: REGISTERs by outcome, and the AORs held when the store is in memory. */
@Injectable()
export class RegistrarMetrics implements OnModuleInit {
  constructor(
    @Inject(SIP_SERVER) private readonly server: SipServer,
    private readonly registrar: SipRegistrar,
  ) {}

  onModuleInit(): void {
    const r = this.registrar;
    this.server.metrics?.addSource(() => [
      {
        name: 'sip_registrations_total',
        help: 'REGISTERs answered by the registrar, by outcome (accepted 2xx, refused 3xx-4xx, failed 5xx).',
        type: 'counter',
        samples: [
          { labels: { outcome: 'accepted' }, value: r.stats.accepted },
          { labels: { outcome: 'refused' }, value: r.stats.refused },
          { labels: { outcome: 'failed' }, value: r.stats.failed },
        ],
      },
      ...(r.store instanceof MemoryLocationStore
        ? [{ name: 'sip_registrar_aors', help: 'Addresses of record with bindings, held in the memory of this instance.', type: 'gauge' as const, samples: [{ labels: {}, value: r.store.size }] }]
        : []),
    ]);
  }
}
