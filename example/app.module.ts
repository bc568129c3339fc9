import { Module, type DynamicModule } from '@nestjs/common';
import { InMemoryLocationStore, LOCATION_STORE } from './location-store.js';
import { REGISTRAR_CONFIG, type RegistrarConfig } from './config.js';
import { RegistrarController } from './registrar.controller.js';
import { RegistrarService } from './registrar.service.js';
import { TransactionLogInterceptor } from './transaction-log.interceptor.js';

@Module({})
export class AppModule {
  static forRoot(config: RegistrarConfig): DynamicModule {
    return {
      module: AppModule,
      controllers: [RegistrarController],
      providers: [
        RegistrarService,
        TransactionLogInterceptor,
        { provide: REGISTRAR_CONFIG, useValue: config },
        // Replace with a persistent LocationStore in a real deployment.
        { provide: LOCATION_STORE, useValue: new InMemoryLocationStore() },
      ],
    };
  }
}
