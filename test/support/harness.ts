/**
 * The test support the suites import, by concern: ./targets.ts (Harness, Target, the in-process
 * targets, targets()/nodeTargets(), the test origin and admin wallet), ./workerd.ts (the Worker
 * under workerd), ./http.ts (post/patch/get/del/json) and ./auth.ts (wallets, SIWE sign-in). The
 * response types json<T>() reads with are in ./responses.ts.
 */
export * from './auth.js';
export * from './http.js';
export * from './targets.js';
export * from './workerd.js';
