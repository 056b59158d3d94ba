import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { RolloutRefsService } from './rollout-refs.service';
import { ZodApiResponse } from '../common/openapi';
import { rolloutRefResponse } from '../rollouts/rollout.responses';

@ApiTags('rollouts')
@ApiBearerAuth()
@Controller('api/v1/rollout-refs')
export class RolloutRefsController {
  constructor(private readonly refs: RolloutRefsService) {}

  @Get(':ref')
  @ZodApiResponse(rolloutRefResponse, 'The rollout it means, and how it matched')
  @ApiOperation({
    summary:
      'Which rollout a short reference means: a model name (its newest rollout), a rollout id, or the first 4+ characters of one',
  })
  async resolve(@Param('ref') ref: string) {
    return this.refs.resolve(ref);
  }
}
