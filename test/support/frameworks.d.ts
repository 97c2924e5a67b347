/**
 * The older framework majors the contract also runs against, installed under npm aliases
 * (test/package.json). Express 4 and Koa 2 have no types of their own: the tests type them as the
 * current majors, whose middleware signatures they share. Fastify 4 ships its own types.
 */
declare module 'express4' {
  export { default } from 'express'
}

declare module 'koa2' {
  export { default } from 'koa'
}
