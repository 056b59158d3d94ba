import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { DomainError } from '@aviary/domain';
import { UuidPipe } from '../common/id.pipe';
import { GuardrailAnalysis, type AnalysisReport } from './guardrail.analysis';
import { ZodApiResponse } from '../common/openapi';
import { analysisResponse } from '../rollouts/rollout.responses';

@ApiTags('rollouts')
@ApiBearerAuth()
@Controller('api/v1/rollouts')
export class AnalysisController {
  constructor(private readonly analysis: GuardrailAnalysis) {}

  @Get(':id/analysis')
  @ZodApiResponse(analysisResponse, 'The comparison')
  @ApiOperation({
    summary:
      'The current step’s comparison: per guardrail the baseline and candidate values, the relative difference with its always-valid interval, the limit and the verdict; plus shadow agreement in a shadow step',
  })
  async get(@Param('id', new UuidPipe('rollout')) id: string): Promise<AnalysisReport> {
    const report = await this.analysis.report(id);
    if (!report) throw new DomainError('NOT_FOUND', `rollout ${JSON.stringify(id)} does not exist`);
    return report;
  }
}
