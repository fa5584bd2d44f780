// The `limits:` settings of the kdebug configuration (config/kdebug.yaml). Each mechanism has its
// own file: rate-limit.ts, running-slots.ts, pod-budget.ts and dedupe.ts.
import { z } from 'zod';
import { rateSchema } from './schema.js';

export const limitSettingsSchema = z
  .object({
    /** Per-user rate when the policy's rule and defaults set none. */
    rate: rateSchema,
    concurrency: z
      .object({
        /** Jobs running at once across every worker. */
        maxRunning: z.number().int().min(1).max(1000),
        /** A slot not released within this time is free again (a crashed worker). Make it longer than the longest job. */
        slotTtlSeconds: z.number().int().min(10).max(86_400),
      })
      .strict(),
    podBudget: z
      .object({
        /** kdebug ephemeral containers a pod may collect before further requests are refused. */
        maxContainers: z.number().int().min(1).max(1000),
        /** The ceiling even with an override (each container stays in the pod spec for the pod's life). */
        overrideMaxContainers: z.number().int().min(1).max(1000),
        /** A budget reservation not followed by the container showing in the pod spec expires after this. */
        reservationTtlSeconds: z.number().int().min(10).max(86_400),
      })
      .strict()
      .refine((b) => b.overrideMaxContainers >= b.maxContainers, {
        message: 'overrideMaxContainers must be at least maxContainers',
        path: ['overrideMaxContainers'],
      }),
    dedupe: z
      .object({
        /** An identical request within this time reuses the running job. 0 turns dedupe off. */
        windowSeconds: z.number().min(0).max(3600),
      })
      .strict(),
  })
  .strict();

export type LimitSettings = z.infer<typeof limitSettingsSchema>;
