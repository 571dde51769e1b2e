// The HTTP concern's public API: the app factory, the server around it, and their contracts.
export { createHttpApp } from './app.js';
export { constantTimeEqual, createTokenMatcher, createTokenResolver, type NamedToken, requireOperate, type TokenIdentity, type TokenRole } from './auth.js';
export { type ErrorBody, HttpError } from './http-error.js';
export { type HttpServerOptions, type RunningHttpServer, startHttpServer } from './server.js';
export type * from './types.js';
