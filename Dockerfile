# syntax=docker/dockerfile:1
# One build, one image per app: pick the app with --target.
#
#   docker build --target control-plane -t aviary/control-plane:0.1.0 .
#   docker build --target router        -t aviary/router:0.1.0 .
#   docker build --target analyzer      -t aviary/analyzer:0.1.0 .
#
# The images run as the unprivileged `node` user (uid 1000) on a read-only root filesystem: nothing
# is written except /tmp (the router's flag backup; mount an emptyDir there, as the Helm chart does).
ARG NODE_IMAGE=node:20.19-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json prisma.config.ts ./
COPY prisma prisma
COPY scripts/prisma-generate.mjs scripts/prisma-generate.mjs
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts scripts
COPY libs libs
COPY apps apps
RUN node scripts/build.mjs && npm prune --omit=dev --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    AVIARY_BIND_HOST=0.0.0.0
WORKDIR /app
# Owned by root, run as node: the app cannot change its own code.
COPY --from=build /src/package.json /app/package.json
COPY --from=build /src/node_modules /app/node_modules
COPY --from=build /src/dist /app/dist
COPY --from=build /src/prisma/migrations /app/prisma/migrations
USER 1000:1000

FROM runtime AS control-plane
EXPOSE 8080
CMD ["node", "dist/apps/control-plane/src/main.js"]

FROM runtime AS router
EXPOSE 8081
CMD ["node", "dist/apps/router/src/main.js"]

FROM runtime AS analyzer
EXPOSE 8082
CMD ["node", "dist/apps/analyzer/src/main.js"]
