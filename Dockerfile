# One image for the five Passerelle services; the Helm chart (deploy/helm/passerelle) sets each
# container's command: node --import tsx services/<name>/src/main.ts (ADR 0006: no build step).
#   docker build -t passerelle/passerelle:0.1.0 .
FROM node:20-slim

ENV NODE_ENV=production \
    CI=true \
    TMPDIR=/tmp
WORKDIR /app

# pnpm, pinned in tools/pnpm (the version the lock file was written with).
COPY tools/pnpm/package.json tools/pnpm/package-lock.json tools/pnpm/
RUN cd tools/pnpm && npm ci --no-audit --no-fund --loglevel=error && npm cache clean --force

# The workspace. Dev dependencies too: tsx runs the TypeScript sources.
COPY . .
RUN tools/pnpm/node_modules/.bin/pnpm install --frozen-lockfile --prod=false \
    && tools/pnpm/node_modules/.bin/pnpm store prune \
    && rm -rf /root/.cache /root/.local/share/pnpm

# The node image's unprivileged user (uid/gid 1000, as the chart's securityContext says). The
# sources stay root-owned and read-only to it; tsx caches under TMPDIR (an emptyDir in the chart).
USER 1000:1000
EXPOSE 5269 5070/udp 5070/tcp 9101 9102 9103 9104 9105
CMD ["node", "--import", "tsx", "services/edge-listener/src/main.ts"]
