/** The request shapes the Cloud Foundry `/v3` routes share: guids, relationships, metadata, list queries and lifecycles. */
import { Type } from '@sinclair/typebox';

export const Guid = Type.String({ minLength: 1, maxLength: 200 });
export const Rel = Type.Object({ data: Type.Object({ guid: Guid }, { additionalProperties: false }) }, { additionalProperties: false });
export const Metadata = Type.Optional(Type.Object({ labels: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]))), annotations: Type.Optional(Type.Record(Type.String(), Type.Union([Type.String(), Type.Null()]))) }, { additionalProperties: false }));
export const ListQuery = Type.Object(
  {
    page: Type.Optional(Type.Integer({ minimum: 1 })),
    per_page: Type.Optional(Type.Integer({ minimum: 1, maximum: 5000 })),
    names: Type.Optional(Type.String()),
    guids: Type.Optional(Type.String()),
    space_guids: Type.Optional(Type.String()),
    app_guids: Type.Optional(Type.String()),
    package_guids: Type.Optional(Type.String()),
    states: Type.Optional(Type.String()),
    types: Type.Optional(Type.String()),
    status_values: Type.Optional(Type.String()),
    status_reasons: Type.Optional(Type.String()),
    organization_guids: Type.Optional(Type.String()),
    versions: Type.Optional(Type.String()),
  },
  { additionalProperties: true },
);
export type ListQ = { page?: number; per_page?: number } & Record<string, string | number | undefined>;
export const GuidParams = Type.Object({ guid: Guid });
export const Lifecycle = Type.Optional(
  Type.Object(
    {
      type: Type.Union([Type.Literal('buildpack'), Type.Literal('docker'), Type.Literal('cnb')]),
      data: Type.Optional(Type.Object({ buildpacks: Type.Optional(Type.Array(Type.String())), stack: Type.Optional(Type.String()) }, { additionalProperties: false })),
    },
    { additionalProperties: false },
  ),
);
