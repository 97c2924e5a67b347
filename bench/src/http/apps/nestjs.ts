/**
 * NestJS 11 on platform-express: bare, the no-op control (a global guard that sets
 * `request.auth`), ours (`AuthModule` with `AuthGuard` global), @nestjs/passport with
 * passport-jwt. Decorators are applied as functions: the bench bundles without decorator syntax.
 */
import 'reflect-metadata'
import type { AddressInfo } from 'node:net'
import { Controller, Get, Injectable, Module } from '@nestjs/common'
import { APP_GUARD, NestFactory } from '@nestjs/core'
import { AuthGuard as PassportGuard, PassportStrategy } from '@nestjs/passport'
import { ExpressAdapter } from '@nestjs/platform-express'
import { ExtractJwt, Strategy } from 'passport-jwt'
import { AUDIENCE, ISSUER } from '../../tokens.js'
import {
  BODY,
  type BuildApp,
  counter,
  guarded,
  NOOP_AUTH,
  ours,
  REQUIRED_PERMISSION,
} from './common.js'

type Decorate = (...requirements: string[]) => MethodDecorator
type NestModule = { forRoot(options: unknown): unknown }
type Guard = new (...args: never[]) => object

class NoopGuard {
  canActivate(context: { switchToHttp(): { getRequest(): { auth?: unknown } } }) {
    context.switchToHttp().getRequest().auth = NOOP_AUTH
    return true
  }
}

function passportGuard(publicKeyPem: string): Guard {
  class JwtStrategy extends PassportStrategy(Strategy) {
    constructor() {
      super({
        jwtFromRequest: ExtractJwt.fromAuthHeaderAsBearerToken(),
        secretOrKey: publicKeyPem,
        algorithms: ['RS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
      })
    }
    validate(payload: unknown) {
      return payload
    }
  }
  Injectable()(JwtStrategy)
  return JwtStrategy
}

export const build: BuildApp = async (cfg) => {
  class Hello {
    hello() {
      counter.requests++
      return BODY
    }
  }
  const descriptor = Object.getOwnPropertyDescriptor(Hello.prototype, 'hello')!
  Get()(Hello.prototype, 'hello', descriptor)
  const imports: unknown[] = []
  const providers: unknown[] = []
  if (cfg.variant === 'noop') {
    providers.push({ provide: APP_GUARD, useClass: NoopGuard })
  } else if (cfg.variant === 'peer') {
    providers.push(passportGuard(cfg.publicKeyPem), {
      provide: APP_GUARD,
      useClass: PassportGuard('jwt'),
    })
  } else if (cfg.variant !== 'bare') {
    const o = await ours<NestModule, MethodDecorator>('nestjs', cfg)
    imports.push(o.factory.forRoot(o.options))
    providers.push({ provide: APP_GUARD, useClass: o.guard })
    if (guarded(cfg.variant)) {
      ;(o.requirePermission as unknown as Decorate)(REQUIRED_PERMISSION)(
        Hello.prototype,
        'hello',
        descriptor,
      )
    }
  }
  Controller()(Hello)
  class App {}
  Module({ imports, controllers: [Hello], providers } as never)(App)
  const app = await NestFactory.create(App, new ExpressAdapter(), { logger: false })
  await app.listen(0, '127.0.0.1')
  return {
    port: (app.getHttpServer().address() as AddressInfo).port,
    close: () => app.close(),
  }
}
