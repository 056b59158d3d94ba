export { createLogger, LOG_FORMATS, type LogFormat, type LogLevel } from './logger';
