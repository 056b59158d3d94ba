import { type DynamicModule, Logger, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { UpstreamSecrets } from '@aviary/config';
import { FLAG_PUBLISHER, type FlagPublisher, STEP_ANALYSIS } from '@aviary/domain';
import { UnleashFlagPublisher } from '@aviary/flags';
import { EvidenceStore, type PrismaClient } from '@aviary/persistence';
import { AnalysisController } from './analysis/analysis.controller';
import { GoldenSetRunner } from './analysis/golden-set.runner';
import { GuardrailAnalysis } from './analysis/guardrail.analysis';
import { TimeOnlyAnalysis } from './analysis/time-only.analysis';
import { AuditController } from './audit/audit.controller';
import { AuditRepository } from './audit/audit.repository';
import { AuthGuard } from './auth/auth.guard';
import { TokenRepository } from './auth/token.repository';
import { TokensController } from './auth/tokens.controller';
import { TokensService } from './auth/tokens.service';
import { CredentialRepository } from './credentials/credential.repository';
import {
  CredentialBindingsFeedController,
  CredentialsController,
} from './credentials/credentials.controller';
import { CredentialsService } from './credentials/credentials.service';
import { JsonBodyInterceptor } from './common/json-body';
import { ProblemDetailsFilter } from './common/problem-details.filter';
import { CONTROL_PLANE_CONFIG, type ControlPlaneConfig } from './config/control-plane.config';
import { PRISMA } from './database/database.tokens';
import { BuiltinFlagPublisher } from './flags/builtin-flag-publisher';
import { BuiltinFlagsController } from './flags/builtin-flags.controller';
import { FlagPublicationRepository } from './flags/flag-publication.repository';
import { FlagDriftWatcher } from './flags/flag-drift.watcher';
import { FlagReconciler } from './flags/flag-reconciler.service';
import { ApiIndexController } from './health/api-index.controller';
import { HealthController } from './health/health.controller';
import { ControlPlaneMetrics } from './metrics/control-plane.metrics';
import { ModelRepository } from './models/model.repository';
import { ModelsController } from './models/models.controller';
import { ModelsService } from './models/models.service';
import { NotificationDeliveryRepository } from './notifications/notification-delivery.repository';
import { NotificationDestinationRepository } from './notifications/notification-destination.repository';
import { NotificationDispatcher } from './notifications/notification-dispatcher.service';
import { NotificationsController } from './notifications/notifications.controller';
import { NotificationsService } from './notifications/notifications.service';
import { RolloutRefRepository } from './rollout-refs/rollout-ref.repository';
import { RolloutRefsController } from './rollout-refs/rollout-refs.controller';
import { RolloutRefsService } from './rollout-refs/rollout-refs.service';
import { RolloutEventRepository } from './rollouts/rollout-event.repository';
import { RolloutRepository } from './rollouts/rollout.repository';
import { RolloutScheduler } from './rollouts/rollout.scheduler';
import { RolloutWatcher } from './rollouts/rollout.watcher';
import { RolloutsController } from './rollouts/rollouts.controller';
import { RolloutsService } from './rollouts/rollouts.service';
import { RouterKeyRepository } from './router-keys/router-key.repository';
import { RouterKeysController, RouterKeysFeedController } from './router-keys/router-keys.controller';
import { RouterKeysService } from './router-keys/router-keys.service';
import { StatusAccess } from './status/status-access';
import { StatusController } from './status/status.controller';
import { StatusService } from './status/status.service';

export function flagPublisherFor(config: ControlPlaneConfig): FlagPublisher {
  if (!config.unleash) return new BuiltinFlagPublisher();
  const u = config.unleash;
  return new UnleashFlagPublisher({
    url: u.url,
    ...(u.adminToken ? { adminToken: u.adminToken } : {}),
    project: u.project,
    environment: u.environment,
    timeoutMs: u.timeoutMs,
    statusUrl: config.publicUrl,
  });
}

@Module({})
export class AppModule {
  static register(config: ControlPlaneConfig, prisma: PrismaClient): DynamicModule {
    return {
      module: AppModule,
      controllers: [
        HealthController,
        ApiIndexController,
        TokensController,
        CredentialsController,
        CredentialBindingsFeedController,
        ModelsController,
        RolloutsController,
        AnalysisController,
        RouterKeysController,
        RouterKeysFeedController,
        StatusController,
        NotificationsController,
        AuditController,
        RolloutRefsController,
        ...(config.builtinFlags ? [BuiltinFlagsController] : []),
      ],
      providers: [
        { provide: CONTROL_PLANE_CONFIG, useValue: config },
        { provide: PRISMA, useValue: prisma },
        { provide: FLAG_PUBLISHER, useValue: flagPublisherFor(config) },
        {
          provide: GuardrailAnalysis,
          useValue: new GuardrailAnalysis(
            prisma,
            new EvidenceStore(prisma),
            new GoldenSetRunner(prisma, new UpstreamSecrets(), (m) => new Logger('GoldenSet').log(m)),
          ),
        },
        {
          provide: STEP_ANALYSIS,
          inject: [GuardrailAnalysis],
          // `manual` only changes who advances a step (the default analysis mode of new rollouts):
          // the guardrails keep judging, so a failing candidate is rolled back in every mode.
          useFactory: (guardrails: GuardrailAnalysis) =>
            config.analysis === 'time-only' ? new TimeOnlyAnalysis() : guardrails,
        },
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
        { provide: APP_INTERCEPTOR, useClass: JsonBodyInterceptor },
        ControlPlaneMetrics,
        TokenRepository,
        TokensService,
        CredentialRepository,
        CredentialsService,
        ModelRepository,
        ModelsService,
        RolloutRepository,
        RolloutEventRepository,
        RolloutsService,
        RolloutScheduler,
        RolloutWatcher,
        FlagPublicationRepository,
        FlagReconciler,
        FlagDriftWatcher,
        StatusAccess,
        StatusService,
        AuditRepository,
        NotificationDestinationRepository,
        NotificationDeliveryRepository,
        NotificationsService,
        NotificationDispatcher,
        RolloutRefRepository,
        RolloutRefsService,
        RouterKeyRepository,
        RouterKeysService,
      ],
    };
  }
}
