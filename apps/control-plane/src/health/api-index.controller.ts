import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { Public } from '../auth/roles';
import { ZodApiResponse } from '../common/openapi';
import { apiIndexResponse } from './health.responses';

const RESOURCES = [
  'models',
  'rollouts',
  'tokens',
  'router-keys',
  'credentials',
  'notifications/destinations',
  'audit',
];

/** The admin API's root (the URL `npm start` prints): where the docs are and what is under it. */
@ApiTags('operations')
@Public()
@Controller('api/v1')
export class ApiIndexController {
  @Get()
  @ApiOperation({ summary: 'The admin API root: links to its documentation and collections' })
  @ZodApiResponse(apiIndexResponse, 'Links')
  index() {
    return {
      name: 'Aviary admin API',
      version: '1',
      docs: '/api/docs',
      openapi: '/api/openapi.json',
      resources: Object.fromEntries(RESOURCES.map((r) => [r, `/api/v1/${r}`])),
    };
  }
}
