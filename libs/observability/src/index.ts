export { createLogger, LOG_FORMATS, type LogFormat, type LogLevel } from './logger';
export {
  activeTracer,
  loadTracingConfig,
  startTracing,
  TRACES_SAMPLERS,
  type Tracing,
  type TracingConfig,
} from './tracing';
