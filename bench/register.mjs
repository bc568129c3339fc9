// Registers bench/ts-loader.mjs so `node --import ./bench/register.mjs file.ts` runs TypeScript.
import { register } from 'node:module';

register('./ts-loader.mjs', import.meta.url);
