// Generated from the manager's OpenAPI document by `npm run console:types`; do not edit.
// `npm test` and every console build fail while it differs from what the API says.
/* eslint-disable */
export interface paths {
    "/openapi.json": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** This API as an OpenAPI 3.1 document. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/healthz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The process is alive. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @enum {string} */
                            status: "ok";
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/readyz": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The stores answer: 503 unavailable without SQL or KV, 200 degraded without counters; also who leads the background loops. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description unavailable (503): SQL or KV does not answer. degraded (200): only the counters store does not (activity, idle policies and setup links suffer; the rest works). */
                            status: "ready" | "degraded" | "unavailable";
                            stores: {
                                sql: boolean;
                                kv: boolean;
                                counters: boolean;
                            };
                            leader: {
                                id: string | null;
                                /** @description This manager runs the background loops. */
                                self: boolean;
                            };
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description unavailable (503): SQL or KV does not answer. degraded (200): only the counters store does not (activity, idle policies and setup links suffer; the rest works). */
                            status: "ready" | "degraded" | "unavailable";
                            stores: {
                                sql: boolean;
                                kv: boolean;
                                counters: boolean;
                            };
                            leader: {
                                id: string | null;
                                /** @description This manager runs the background loops. */
                                self: boolean;
                            };
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/metrics": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Prometheus metrics (text format). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Sign in with a name and password; answers a login session and its bearer secret (for programs and the CLI).
         * @description Wrong name, wrong password and disabled user all answer AP_ERR_LOGIN_FAILED. Attempts are limited per name and per client address (AP_ERR_RATE_LIMITED with Retry-After).
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        name: string;
                        password: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            loginSession: {
                                id: string;
                                userId: string;
                                kind: "password" | "oidc" | "platform" | "cli";
                                parentId: string | null;
                                clientAddress: string | null;
                                userAgent: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                /** Format: date-time */
                                expiresAt: string;
                                /** Format: date-time */
                                lastSeenAt: string;
                                endedAt: string | null;
                                endReason: string | null;
                                /** @description The caller's own login session. */
                                current: boolean;
                            };
                            /** @description Bearer secret of this login session: shown once. */
                            token: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Sign out: ends the caller's login session (or every one of theirs), then lists where a browser must go to drop its app cookies.
         * @description Revocation comes first: every worker refuses the ended login sessions' app cookies and closes their live connections. `chainUrl` walks `logoutUris` as a top-level redirect chain and ends on the sign-in page.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description End every login session of the user, not just this one. */
                        everywhere?: boolean;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Login sessions ended (with the CLI sign-ins approved from them). */
                            ended: string[];
                            /** @description Where a browser must go to drop its app cookies, in order (worker origins, then admin-added URIs). */
                            logoutUris: {
                                uri: string;
                                nextParam: string | null;
                                source: "worker" | "external";
                            }[];
                            /** @description A page of the manager that walks the list as a redirect chain and ends on the sign-in page. */
                            chainUrl: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/whoami": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The caller: user, credential, and (cookie callers) the anti-forgery token. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            user: {
                                id: string;
                                name: string;
                                displayName: string | null;
                                role: "admin" | "user";
                                disabled: boolean;
                                hasPassword: boolean;
                                identityProvider: string | null;
                                /** Format: date-time */
                                createdAt: string;
                            };
                            via: "token" | "login-session" | "cookie";
                            loginSession: {
                                id: string;
                                userId: string;
                                kind: "password" | "oidc" | "platform" | "cli";
                                parentId: string | null;
                                clientAddress: string | null;
                                userAgent: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                /** Format: date-time */
                                expiresAt: string;
                                /** Format: date-time */
                                lastSeenAt: string;
                                endedAt: string | null;
                                endReason: string | null;
                                /** @description The caller's own login session. */
                                current: boolean;
                            } | null;
                            tokenId: string | null;
                            scopes: string[];
                            csrfToken: string | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/cli-login": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Start signing a CLI in from a browser: answers a code to approve at `verificationUri` and a device code to poll with. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description X25519 public key (base64url) the approved token is sealed to. */
                        publicKey: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            deviceCode: string;
                            userCode: string;
                            verificationUri: string;
                            verificationUriComplete: string;
                            expiresInSeconds: number;
                            intervalSeconds: number;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/cli-login/poll": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** A CLI's poll: `pending` until the browser approved, then its login session's secret, sealed to the CLI's key (once). */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        deviceCode: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            state: "pending" | "approved";
                            sealedToken?: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Users. Admins only. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                name: string;
                                displayName: string | null;
                                role: "admin" | "user";
                                disabled: boolean;
                                hasPassword: boolean;
                                identityProvider: string | null;
                                /** Format: date-time */
                                createdAt: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        /** Create a user (with a password, or none: then they sign in through the identity provider). Admins only. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description Sign-in name: lowercase letters, digits, ".", "_", "-". */
                        name: string;
                        displayName?: string | null;
                        role?: "admin" | "user";
                        /** @description At least 8 characters. */
                        password?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            displayName: string | null;
                            role: "admin" | "user";
                            disabled: boolean;
                            hasPassword: boolean;
                            identityProvider: string | null;
                            /** Format: date-time */
                            createdAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/users/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One user (`me`: the caller). Users see only themselves. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            displayName: string | null;
                            role: "admin" | "user";
                            disabled: boolean;
                            hasPassword: boolean;
                            identityProvider: string | null;
                            /** Format: date-time */
                            createdAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** Delete a user: their sign-ins end, their tokens are revoked, every worker refuses their cookies and cuts their live connections, and their sessions are terminated. Admins only. */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            displayName: string | null;
                            role: "admin" | "user";
                            disabled: boolean;
                            hasPassword: boolean;
                            identityProvider: string | null;
                            /** Format: date-time */
                            createdAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        /** Change a user: display name (the user or an admin); role and disabled (admins). */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        displayName?: string | null;
                        role?: "admin" | "user";
                        /** @description Disabling signs the user out everywhere and cuts their live connections. */
                        disabled?: boolean;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            displayName: string | null;
                            role: "admin" | "user";
                            disabled: boolean;
                            hasPassword: boolean;
                            identityProvider: string | null;
                            /** Format: date-time */
                            createdAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        trace?: never;
    };
    "/v1/users/{id}/password": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** Set a password (the user, with the current one; or an admin). The user's other sign-ins end. */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        password: string;
                        /** @description Needed when you change your own. */
                        currentPassword?: string;
                    };
                };
            };
            responses: {
                /** @description Changed. */
                204: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** API tokens (the caller's; admins: everyone's, or one user's with `user`). Secrets are never shown again. */
        get: {
            parameters: {
                query?: {
                    user?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                userId: string;
                                name: string;
                                scopes: string[];
                                /** Format: date-time */
                                createdAt: string;
                                expiresAt: string | null;
                                revokedAt: string | null;
                                lastUsedAt: string | null;
                                state: "live" | "expired" | "revoked";
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        /** Create an API token; its secret is in this answer only. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        name: string;
                        expiresIn?: (string | number) | null;
                        /** @description `login-sessions`: may create and end login sessions for users (a platform web server). Admins only. */
                        scopes?: string[];
                        /** @description Admins: the user (id or name) the token acts as. */
                        user?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            userId: string;
                            name: string;
                            scopes: string[];
                            /** Format: date-time */
                            createdAt: string;
                            expiresAt: string | null;
                            revokedAt: string | null;
                            lastUsedAt: string | null;
                            state: "live" | "expired" | "revoked";
                            /** @description The secret: shown this once. */
                            token: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/tokens/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Revoke an API token: refused at once, and every worker refuses the cookies, tunnels and raw TCP access minted under it. */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            userId: string;
                            name: string;
                            scopes: string[];
                            /** Format: date-time */
                            createdAt: string;
                            expiresAt: string | null;
                            revokedAt: string | null;
                            lastUsedAt: string | null;
                            state: "live" | "expired" | "revoked";
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/login-sessions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Login sessions (the caller's; admins: everyone's, or one user's). */
        get: {
            parameters: {
                query?: {
                    user?: string;
                    /** @description Only login sessions that have not ended or expired. */
                    live?: boolean;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                userId: string;
                                kind: "password" | "oidc" | "platform" | "cli";
                                parentId: string | null;
                                clientAddress: string | null;
                                userAgent: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                /** Format: date-time */
                                expiresAt: string;
                                /** Format: date-time */
                                lastSeenAt: string;
                                endedAt: string | null;
                                endReason: string | null;
                                /** @description The caller's own login session. */
                                current: boolean;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        /**
         * Sign a user in on the platform's behalf (a token with the `login-sessions` scope, or an admin): answers the login session and its bearer secret.
         * @description For a platform web server whose own login should drive AppProxy: it calls the API as the user with this secret, and ends the login session (DELETE) when its user signs out there.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description The user (id or name) to sign in. */
                        user: string;
                        clientAddress?: string;
                        userAgent?: string;
                        /** @description Lifetime (capped by the configuration) (e.g. "30d", "12h", or milliseconds) */
                        ttl?: string | number;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            loginSession: {
                                id: string;
                                userId: string;
                                kind: "password" | "oidc" | "platform" | "cli";
                                parentId: string | null;
                                clientAddress: string | null;
                                userAgent: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                /** Format: date-time */
                                expiresAt: string;
                                /** Format: date-time */
                                lastSeenAt: string;
                                endedAt: string | null;
                                endReason: string | null;
                                /** @description The caller's own login session. */
                                current: boolean;
                            };
                            /** @description Bearer secret of this login session: shown once. */
                            token: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/login-sessions/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One login session (`current`: the caller's own). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            userId: string;
                            kind: "password" | "oidc" | "platform" | "cli";
                            parentId: string | null;
                            clientAddress: string | null;
                            userAgent: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            expiresAt: string;
                            /** Format: date-time */
                            lastSeenAt: string;
                            endedAt: string | null;
                            endReason: string | null;
                            /** @description The caller's own login session. */
                            current: boolean;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** End a login session (and the CLI sign-ins approved from it): every worker refuses its cookies and closes its live connections. */
        delete: {
            parameters: {
                query?: {
                    reason?: string;
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                userId: string;
                                kind: "password" | "oidc" | "platform" | "cli";
                                parentId: string | null;
                                clientAddress: string | null;
                                userAgent: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                /** Format: date-time */
                                expiresAt: string;
                                /** Format: date-time */
                                lastSeenAt: string;
                                endedAt: string | null;
                                endReason: string | null;
                                /** @description The caller's own login session. */
                                current: boolean;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/logout-uris": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Logout URIs added by admins (visited after the worker origins of the signing-out login session). Admins only. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                uri: string;
                                nextParam: string | null;
                                description: string;
                                /** Format: date-time */
                                createdAt: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        /** Add a logout URI (the platform web server, another app). Admins only. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        uri: string;
                        nextParam?: string | null;
                        description?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            uri: string;
                            nextParam: string | null;
                            description: string;
                            /** Format: date-time */
                            createdAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/logout-uris/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Remove a logout URI. Admins only. */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            uri: string;
                            nextParam: string | null;
                            description: string;
                            /** Format: date-time */
                            createdAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sessions": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List sessions (admins: all; users: their own). */
        get: {
            parameters: {
                query?: {
                    state?: "PENDING" | "RUNNING" | "TERMINATING" | "TERMINATED" | "ERROR";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                name: string;
                                template: string;
                                ownerId: string;
                                state: "PENDING" | "RUNNING" | "TERMINATING" | "TERMINATED" | "ERROR";
                                stateReason: string | null;
                                services: {
                                    name: string;
                                    protocol: "http" | "tcp";
                                    backend: {
                                        host: string;
                                        port: number;
                                    } | null;
                                }[];
                                idleTimeoutMs: number | null;
                                /** Format: date-time */
                                createdAt: string;
                                /** Format: date-time */
                                updatedAt: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        /**
         * Create a session from a template; it starts PENDING and the agent launches it.
         * @description `idle` sets the session idle policy and the defaults of its circuits (ms; null = never), within the administrator's limits (400 AP_ERR_POLICY_OUT_OF_RANGE with detail {field, min, max}); absent fields come from the template, then the configuration.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        /** @description A template of the agent. Give this or `external`. */
                        template?: string;
                        /** @description Register a session that runs elsewhere, by the addresses of its services (admins only). It is RUNNING at once; terminating it closes its circuits and stops nothing else. */
                        external?: {
                            services: {
                                name: string;
                                protocol: "http" | "tcp";
                                /** @description Host name or IP address of the backend (IPv6 in brackets). */
                                host: string;
                                port: number;
                            }[];
                        };
                        /** @description Default: <template>-<4 hex> (external: external-<4 hex>). */
                        name?: string;
                        /** @description Idle settings of the session (they win over the template's and the configuration's; within the administrator's limits). */
                        idle?: {
                            sessionIdleTimeoutMs?: number | null;
                            circuitIdleTimeoutMs?: number | null;
                            /** @description Default for the session's circuits: a TCP/tunnel/WebSocket connection idle this long is closed. */
                            connectionIdleTimeoutMs?: number;
                        };
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            template: string;
                            ownerId: string;
                            state: "PENDING" | "RUNNING" | "TERMINATING" | "TERMINATED" | "ERROR";
                            stateReason: string | null;
                            services: {
                                name: string;
                                protocol: "http" | "tcp";
                                backend: {
                                    host: string;
                                    port: number;
                                } | null;
                            }[];
                            idleTimeoutMs: number | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sessions/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One session, with its services. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            template: string;
                            ownerId: string;
                            state: "PENDING" | "RUNNING" | "TERMINATING" | "TERMINATED" | "ERROR";
                            stateReason: string | null;
                            services: {
                                name: string;
                                protocol: "http" | "tcp";
                                backend: {
                                    host: string;
                                    port: number;
                                } | null;
                            }[];
                            idleTimeoutMs: number | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /**
         * Terminate a session: its circuits close first, then its processes stop.
         * @description 202 with the session TERMINATING while the flow continues; 200 when the session is already final (or became final within the wait with ?wait=true). Repeating it is harmless.
         */
        delete: {
            parameters: {
                query?: {
                    /** @description Answer once the session is final (at most ~30 s). */
                    wait?: boolean;
                };
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            template: string;
                            ownerId: string;
                            state: "PENDING" | "RUNNING" | "TERMINATING" | "TERMINATED" | "ERROR";
                            stateReason: string | null;
                            services: {
                                name: string;
                                protocol: "http" | "tcp";
                                backend: {
                                    host: string;
                                    port: number;
                                } | null;
                            }[];
                            idleTimeoutMs: number | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                202: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            template: string;
                            ownerId: string;
                            state: "PENDING" | "RUNNING" | "TERMINATING" | "TERMINATED" | "ERROR";
                            stateReason: string | null;
                            services: {
                                name: string;
                                protocol: "http" | "tcp";
                                backend: {
                                    host: string;
                                    port: number;
                                } | null;
                            }[];
                            idleTimeoutMs: number | null;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sessions/{id}/start-service": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Open (or reuse) a circuit to one of the session's services and get a setup URL for the browser.
         * @description Without `frontend`, port mode is used when a live worker offers it for the protocol, else wildcard. The worker serves the route before this answers. The setup URL is single-use and expires within 60 s. TCP services: port mode only; `access` {mode: tunnel (default) | allow-list | public, allowFrom}; no setup URL (appUrl is tcp://host:port, or the origin that carries tunnels). A live circuit is re-used; a different `access` is applied to it in place. `idle` applies to a new circuit only.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        service: string;
                        frontend?: "port" | "wildcard";
                        /** @description Path on the app to land on after setup (default /). */
                        next?: string;
                        /** @description TCP services only. "tunnel" (default): only authenticated tunnels (`appproxy tunnel`); "allow-list": raw TCP from the listed addresses; "public": raw TCP for anyone, when the configuration permits it. */
                        access?: {
                            mode?: "tunnel" | "allow-list" | "public";
                            /** @description Client IPv4/IPv6 addresses or CIDRs admitted in allow-list mode (e.g. "10.0.0.0/8"). */
                            allowFrom?: string[];
                        };
                        /** @description Idle settings of a new circuit (they win over the session's; within the administrator's limits). A re-used circuit keeps its own. */
                        idle?: {
                            circuitIdleTimeoutMs?: number | null;
                            /** @description A TCP/tunnel/WebSocket connection with no byte either way for this long is closed. */
                            connectionIdleTimeoutMs?: number;
                        };
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            circuitId: string;
                            /** @description http: the app's origin. tcp: tcp://host:port (allow-list, public), or the circuit's origin that carries tunnels (tunnel). */
                            appUrl: string;
                            setupUrl: string | null;
                            expiresAt: string | null;
                            reused: boolean;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/sessions/{id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** What the lifecycle and the idle policies did to the session and its circuits, oldest first. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Oldest first (the newest 1000). */
                            items: {
                                id: number;
                                /** Format: date-time */
                                at: string;
                                sessionId: string | null;
                                endpointId: string | null;
                                circuitId: string | null;
                                /** @description session-created, session-running, session-terminated, session-error, session-idle-terminated, circuit-opened, circuit-access-changed, circuit-closed, circuit-idle-closed. */
                                kind: string;
                                detail: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/circuits": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** List circuits (admins: all; users: their own). */
        get: {
            parameters: {
                query?: {
                    sessionId?: string;
                    state?: "PENDING" | "ACTIVE" | "UNAVAILABLE" | "CLOSING" | "CLOSED";
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                sessionId: string | null;
                                endpointId: string | null;
                                service: string;
                                protocol: "http" | "tcp";
                                ownerId: string;
                                worker: string;
                                frontendMode: "port" | "wildcard";
                                slot: {
                                    port: number;
                                } | {
                                    subdomain: string;
                                };
                                appUrl: string;
                                backends: {
                                    host: string;
                                    port: number;
                                }[];
                                access: {
                                    mode: "tunnel" | "allow-list" | "public";
                                    allowFrom: string[];
                                } | null;
                                idle: {
                                    connectionIdleTimeoutMs: number;
                                    circuitIdleTimeoutMs: number | null;
                                };
                                /** @description integrated: a per-circuit app cookie bound to the sign-in that asked for it (logout revokes it); legacy: Backend.AI's per-user appproxy_permit cookie, set through /setup?token=. Fixed at creation by the integratedFlow flag. */
                                flow: "integrated" | "legacy";
                                state: "PENDING" | "ACTIVE" | "UNAVAILABLE" | "CLOSING" | "CLOSED";
                                stateReason: string | null;
                                /** Format: date-time */
                                createdAt: string;
                                closedAt: string | null;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/circuits/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One circuit. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            sessionId: string | null;
                            endpointId: string | null;
                            service: string;
                            protocol: "http" | "tcp";
                            ownerId: string;
                            worker: string;
                            frontendMode: "port" | "wildcard";
                            slot: {
                                port: number;
                            } | {
                                subdomain: string;
                            };
                            appUrl: string;
                            backends: {
                                host: string;
                                port: number;
                            }[];
                            access: {
                                mode: "tunnel" | "allow-list" | "public";
                                allowFrom: string[];
                            } | null;
                            idle: {
                                connectionIdleTimeoutMs: number;
                                circuitIdleTimeoutMs: number | null;
                            };
                            /** @description integrated: a per-circuit app cookie bound to the sign-in that asked for it (logout revokes it); legacy: Backend.AI's per-user appproxy_permit cookie, set through /setup?token=. Fixed at creation by the integratedFlow flag. */
                            flow: "integrated" | "legacy";
                            state: "PENDING" | "ACTIVE" | "UNAVAILABLE" | "CLOSING" | "CLOSED";
                            stateReason: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            closedAt: string | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** Close a circuit: the worker drops the route and its live connections; the slot is released. */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            sessionId: string | null;
                            endpointId: string | null;
                            service: string;
                            protocol: "http" | "tcp";
                            ownerId: string;
                            worker: string;
                            frontendMode: "port" | "wildcard";
                            slot: {
                                port: number;
                            } | {
                                subdomain: string;
                            };
                            appUrl: string;
                            backends: {
                                host: string;
                                port: number;
                            }[];
                            access: {
                                mode: "tunnel" | "allow-list" | "public";
                                allowFrom: string[];
                            } | null;
                            idle: {
                                connectionIdleTimeoutMs: number;
                                circuitIdleTimeoutMs: number | null;
                            };
                            /** @description integrated: a per-circuit app cookie bound to the sign-in that asked for it (logout revokes it); legacy: Backend.AI's per-user appproxy_permit cookie, set through /setup?token=. Fixed at creation by the integratedFlow flag. */
                            flow: "integrated" | "legacy";
                            state: "PENDING" | "ACTIVE" | "UNAVAILABLE" | "CLOSING" | "CLOSED";
                            stateReason: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            closedAt: string | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/circuits/{id}/activity": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Bytes, requests, open connections and last-activity times the workers counted for the circuit, and the idle policies that apply.
         * @description Activity is bytes moved (HTTP, WebSocket, TCP and tunnels alike); open connections alone do not count. `policies` lists each idle policy that applies (circuit-idle, session-idle) with its timeout, where it came from and when it acts if nothing moves (`actsAt`, null when it cannot act now; `explanation` says why); `policy` is the one that acts first.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            circuitId: string;
                            bytesIn: number;
                            bytesOut: number;
                            requests: number;
                            openConnections: number;
                            lastClientAt: string | null;
                            lastBackendAt: string | null;
                            lastActivityAt: string | null;
                            idleSince: string | null;
                            policy: {
                                policy: "circuit-idle" | "session-idle";
                                timeoutMs: number;
                                source: "template" | "session" | "request" | "config";
                                actsAt: string | null;
                                explanation: string;
                            } | null;
                            policies: {
                                policy: "circuit-idle" | "session-idle";
                                timeoutMs: number;
                                source: "template" | "session" | "request" | "config";
                                actsAt: string | null;
                                explanation: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/circuits/{id}/access": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        /**
         * Change a live TCP circuit's access (mode, allow-list) in place.
         * @description The worker applies it at once: live connections that no longer pass are closed (reason `revoked`). A mode without `allowFrom` keeps the current list when it stays allow-list. `public` needs `tcp.allowPublic`.
         */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        mode?: "tunnel" | "allow-list" | "public";
                        /** @description Client IPv4/IPv6 addresses or CIDRs admitted in allow-list mode (e.g. "10.0.0.0/8"). */
                        allowFrom?: string[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            sessionId: string | null;
                            endpointId: string | null;
                            service: string;
                            protocol: "http" | "tcp";
                            ownerId: string;
                            worker: string;
                            frontendMode: "port" | "wildcard";
                            slot: {
                                port: number;
                            } | {
                                subdomain: string;
                            };
                            appUrl: string;
                            backends: {
                                host: string;
                                port: number;
                            }[];
                            access: {
                                mode: "tunnel" | "allow-list" | "public";
                                allowFrom: string[];
                            } | null;
                            idle: {
                                connectionIdleTimeoutMs: number;
                                circuitIdleTimeoutMs: number | null;
                            };
                            /** @description integrated: a per-circuit app cookie bound to the sign-in that asked for it (logout revokes it); legacy: Backend.AI's per-user appproxy_permit cookie, set through /setup?token=. Fixed at creation by the integratedFlow flag. */
                            flow: "integrated" | "legacy";
                            state: "PENDING" | "ACTIVE" | "UNAVAILABLE" | "CLOSING" | "CLOSED";
                            stateReason: string | null;
                            /** Format: date-time */
                            createdAt: string;
                            closedAt: string | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        trace?: never;
    };
    "/v1/circuits/{id}/tunnel-token": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * A single-use token for one tunnelled connection to a TCP circuit in tunnel mode.
         * @description Open a WebSocket to `url` with `Authorization: Bearer <token>` and subprotocol `appproxy-tunnel.v1` within the token lifetime (at most 60 s); binary messages carry the bytes. 409 AP_ERR_TUNNEL_NOT_AVAILABLE unless the circuit is ACTIVE, tcp and in tunnel mode. The owner of the circuit or an admin.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Single use; send it as `Authorization: Bearer <token>`. */
                            token: string;
                            /** Format: date-time */
                            expiresAt: string;
                            /** @description ws(s)://host:port/_appproxy/tunnel (subprotocol appproxy-tunnel.v1). */
                            url: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/circuits/{id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** What the lifecycle and the idle policies did to the circuit, oldest first. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Oldest first (the newest 1000). */
                            items: {
                                id: number;
                                /** Format: date-time */
                                at: string;
                                sessionId: string | null;
                                endpointId: string | null;
                                circuitId: string | null;
                                /** @description session-created, session-running, session-terminated, session-error, session-idle-terminated, circuit-opened, circuit-access-changed, circuit-closed, circuit-idle-closed. */
                                kind: string;
                                detail: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/events/stream": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Lifecycle events as they happen (text/event-stream), those the caller may see.
         * @description Each event: `id: <event id>`, `event: lifecycle`, `data: <the event as in /v1/sessions/{id}/events>`. A reconnect with `Last-Event-ID` first replays what it missed (up to 200). The stream ends when the caller's credential ends. Turned off by the `liveEvents` flag: 503 AP_ERR_FEATURE_DISABLED, and open streams end.
         */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/flags": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Every feature flag: what it does, its default, its overrides and its global value. Admins only. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                /** @description One of: integratedFlow, legacyCoordinatorApi, logoutRevocation, endpointRetries, liveEvents. */
                                name: string;
                                description: string;
                                /** @description Why an operator would change it. */
                                when: string;
                                default: boolean;
                                /** @description Where overrides may be set. */
                                scopes: ("global" | "worker" | "user")[];
                                readBy: ("manager" | "worker")[];
                                /** @description The value where no worker or user override applies. */
                                value: boolean;
                                overrides: {
                                    /** @description `global`, `worker:<authority>` or `user:<user id>`. */
                                    scope: string;
                                    value: boolean;
                                    /** Format: date-time */
                                    updatedAt: string;
                                    updatedBy: string | null;
                                }[];
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/flags/changes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Who set or unset which flag at which scope, when (the newest 500, oldest first). Admins only. */
        get: {
            parameters: {
                query?: {
                    name?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: number;
                                /** Format: date-time */
                                at: string;
                                name: string;
                                scope: string;
                                value: boolean | null;
                                previous: boolean | null;
                                by: string | null;
                                byName: string | null;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/flags/{name}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One feature flag. Admins only. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    name: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description One of: integratedFlow, legacyCoordinatorApi, logoutRevocation, endpointRetries, liveEvents. */
                            name: string;
                            description: string;
                            /** @description Why an operator would change it. */
                            when: string;
                            default: boolean;
                            /** @description Where overrides may be set. */
                            scopes: ("global" | "worker" | "user")[];
                            readBy: ("manager" | "worker")[];
                            /** @description The value where no worker or user override applies. */
                            value: boolean;
                            overrides: {
                                /** @description `global`, `worker:<authority>` or `user:<user id>`. */
                                scope: string;
                                value: boolean;
                                /** Format: date-time */
                                updatedAt: string;
                                updatedBy: string | null;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        /**
         * Set a flag at a scope (global by default). Admins only.
         * @description Answers once the change is in KV, from where every manager and worker applies it within about a second, without a restart. What a flag decides is decided anew for new requests and new circuits; open circuits keep the flow they were created under. Unknown names: 404 AP_ERR_FLAG_NOT_FOUND; a scope the flag does not take: 400 AP_ERR_VALIDATION.
         */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    name: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        value: boolean;
                        /** @description `global` (the default), `worker:<authority>` or `user:<user id or name>`. */
                        scope?: string;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description One of: integratedFlow, legacyCoordinatorApi, logoutRevocation, endpointRetries, liveEvents. */
                            name: string;
                            description: string;
                            /** @description Why an operator would change it. */
                            when: string;
                            default: boolean;
                            /** @description Where overrides may be set. */
                            scopes: ("global" | "worker" | "user")[];
                            readBy: ("manager" | "worker")[];
                            /** @description The value where no worker or user override applies. */
                            value: boolean;
                            overrides: {
                                /** @description `global`, `worker:<authority>` or `user:<user id>`. */
                                scope: string;
                                value: boolean;
                                /** Format: date-time */
                                updatedAt: string;
                                updatedBy: string | null;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        post?: never;
        /** Remove the override of a flag at a scope (global by default): the next wider one applies. Admins only. */
        delete: {
            parameters: {
                query?: {
                    /** @description `global` (the default), `worker:<authority>` or `user:<user id or name>`. */
                    scope?: string;
                };
                header?: never;
                path: {
                    name: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description One of: integratedFlow, legacyCoordinatorApi, logoutRevocation, endpointRetries, liveEvents. */
                            name: string;
                            description: string;
                            /** @description Why an operator would change it. */
                            when: string;
                            default: boolean;
                            /** @description Where overrides may be set. */
                            scopes: ("global" | "worker" | "user")[];
                            readBy: ("manager" | "worker")[];
                            /** @description The value where no worker or user override applies. */
                            value: boolean;
                            overrides: {
                                /** @description `global`, `worker:<authority>` or `user:<user id>`. */
                                scope: string;
                                value: boolean;
                                /** Format: date-time */
                                updatedAt: string;
                                updatedBy: string | null;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/endpoints": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Inference endpoints (admins: all; users: their own). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                name: string;
                                ownerId: string;
                                state: "ACTIVE" | "DELETING" | "DELETED";
                                url: string | null;
                                circuitId: string | null;
                                settings: {
                                    access: "token" | "public";
                                    balancing: "round-robin" | "random" | "weighted" | "least-inflight" | "prefix" | "llm";
                                    headersTimeoutMs: number;
                                    healthCheck: {
                                        /** @description Probed with GET. */
                                        path: string;
                                        expectedStatus: number;
                                        intervalMs: number;
                                        timeoutMs: number;
                                        healthyThreshold: number;
                                        unhealthyThreshold: number;
                                        /** @description A new route is not probed (nor served) before this. */
                                        initialDelayMs: number;
                                    } | null;
                                    retry?: {
                                        /** @description Tries after the first; 0 = never. */
                                        attempts: number;
                                        bufferBytes: number;
                                        budgetPercent: number;
                                        minRetries: number;
                                    };
                                    passive?: {
                                        consecutiveFailures: number;
                                        baseEjectionMs: number;
                                        maxEjectionMs: number;
                                        maxEjectedPercent: number;
                                    };
                                    hold?: {
                                        /** @description 0 = answer 503 at once while no route is ready. */
                                        timeoutMs: number;
                                        maxRequests: number;
                                        heartbeatMs: number;
                                    };
                                    limits?: {
                                        /** @description Requests in flight per worker process; null = unbounded. */
                                        maxConcurrent: number | null;
                                        queue: number;
                                        /** @description Per key, requests per minute; null = none. */
                                        rpm: number | null;
                                        /** @description Per key, prompt + completion tokens per minute; null = none. */
                                        tpm: number | null;
                                    };
                                    /** @description Longest quiet gap between response chunks. */
                                    streamIdleTimeoutMs?: number;
                                    maxBodyBytes?: number;
                                    slowStartMs?: number;
                                    drainGraceMs?: number;
                                    affinityHeader?: string | null;
                                    engineMetrics?: {
                                        path: string;
                                        intervalMs: number;
                                        staleMs: number;
                                    } | null;
                                };
                                routes: {
                                    id: string;
                                    kind: "session" | "address";
                                    sessionId: string | null;
                                    service: string | null;
                                    backend: {
                                        host: string;
                                        port: number;
                                    } | null;
                                    weight: number;
                                    state: "serving" | "staged" | "unresolved";
                                    /** @description As the workers serving the endpoint see the route: the worst state any reports. */
                                    health?: {
                                        state: "starting" | "healthy" | "unhealthy" | "ejected";
                                        /** @description Worker processes whose fresh report counted. */
                                        reporters: number;
                                        lastProbeAt: string | null;
                                        lastError: string | null;
                                        ejections: number;
                                    };
                                    /** @description The route's traffic as the worker processes serving the endpoint report it, summed: in flight now, and the last minute. */
                                    traffic?: {
                                        /** @description How far back requests, errors and latencies reach. */
                                        windowS: number;
                                        /** @description Requests with an attempt on the route now. */
                                        inflight: number;
                                        /** @description Attempts the route answered or failed in the window. */
                                        requests: number;
                                        /** @description 5xx answers, failed attempts and streams ended by an error. */
                                        errors: number;
                                        errorRate: number | null;
                                        /** @description Arrival to last byte; each figure exact to ±12% (bucketed). */
                                        latencyMs: {
                                            p50: number | null;
                                            p90: number | null;
                                            p99: number | null;
                                        };
                                        /** @description Arrival to the first generated token (streams). */
                                        ttftMs: {
                                            p50: number | null;
                                            p99: number | null;
                                        };
                                    };
                                }[];
                                revision: number;
                                /** Format: date-time */
                                createdAt: string;
                                /** Format: date-time */
                                updatedAt: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        /**
         * Create an inference endpoint: a stable URL whose routes (replicas) change in real time.
         * @description Answers once the worker serves the URL. Routes are session services (bound to the session: its end removes them) or addresses (admins).
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        name: string;
                        frontend?: "port" | "wildcard";
                        settings?: {
                            access?: "token" | "public";
                            balancing?: "round-robin" | "random" | "weighted" | "least-inflight" | "prefix" | "llm";
                            /** @description Longest wait for a response head (time to first token). */
                            headersTimeoutMs?: number;
                            /** @description Active probes of every route; null = passive health only. */
                            healthCheck?: {
                                /** @description Probed with GET. */
                                path?: string;
                                expectedStatus?: number;
                                intervalMs?: number;
                                timeoutMs?: number;
                                healthyThreshold?: number;
                                unhealthyThreshold?: number;
                                /** @description A new route is not probed (nor served) before this. */
                                initialDelayMs?: number;
                            } | null;
                            retry?: {
                                /** @description Tries after the first; 0 = never. */
                                attempts?: number;
                                bufferBytes?: number;
                                budgetPercent?: number;
                                minRetries?: number;
                            };
                            passive?: {
                                consecutiveFailures?: number;
                                baseEjectionMs?: number;
                                maxEjectionMs?: number;
                                maxEjectedPercent?: number;
                            };
                            hold?: {
                                /** @description 0 = answer 503 at once while no route is ready. */
                                timeoutMs?: number;
                                maxRequests?: number;
                                heartbeatMs?: number;
                            };
                            limits?: {
                                /** @description Requests in flight per worker process; null = unbounded. */
                                maxConcurrent?: number | null;
                                queue?: number;
                                /** @description Per key, requests per minute; null = none. */
                                rpm?: number | null;
                                /** @description Per key, prompt + completion tokens per minute; null = none. */
                                tpm?: number | null;
                            };
                            /** @description Longest quiet gap between response chunks. */
                            streamIdleTimeoutMs?: number;
                            maxBodyBytes?: number;
                            slowStartMs?: number;
                            drainGraceMs?: number;
                            affinityHeader?: string | null;
                            engineMetrics?: {
                                path?: string;
                                intervalMs?: number;
                                staleMs?: number;
                            } | null;
                        };
                        routes?: {
                            id?: string;
                            session?: string;
                            service?: string;
                            host?: string;
                            port?: number;
                            /** @description Traffic share; 0 = staged. */
                            weight?: number;
                        }[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            ownerId: string;
                            state: "ACTIVE" | "DELETING" | "DELETED";
                            url: string | null;
                            circuitId: string | null;
                            settings: {
                                access: "token" | "public";
                                balancing: "round-robin" | "random" | "weighted" | "least-inflight" | "prefix" | "llm";
                                headersTimeoutMs: number;
                                healthCheck: {
                                    /** @description Probed with GET. */
                                    path: string;
                                    expectedStatus: number;
                                    intervalMs: number;
                                    timeoutMs: number;
                                    healthyThreshold: number;
                                    unhealthyThreshold: number;
                                    /** @description A new route is not probed (nor served) before this. */
                                    initialDelayMs: number;
                                } | null;
                                retry?: {
                                    /** @description Tries after the first; 0 = never. */
                                    attempts: number;
                                    bufferBytes: number;
                                    budgetPercent: number;
                                    minRetries: number;
                                };
                                passive?: {
                                    consecutiveFailures: number;
                                    baseEjectionMs: number;
                                    maxEjectionMs: number;
                                    maxEjectedPercent: number;
                                };
                                hold?: {
                                    /** @description 0 = answer 503 at once while no route is ready. */
                                    timeoutMs: number;
                                    maxRequests: number;
                                    heartbeatMs: number;
                                };
                                limits?: {
                                    /** @description Requests in flight per worker process; null = unbounded. */
                                    maxConcurrent: number | null;
                                    queue: number;
                                    /** @description Per key, requests per minute; null = none. */
                                    rpm: number | null;
                                    /** @description Per key, prompt + completion tokens per minute; null = none. */
                                    tpm: number | null;
                                };
                                /** @description Longest quiet gap between response chunks. */
                                streamIdleTimeoutMs?: number;
                                maxBodyBytes?: number;
                                slowStartMs?: number;
                                drainGraceMs?: number;
                                affinityHeader?: string | null;
                                engineMetrics?: {
                                    path: string;
                                    intervalMs: number;
                                    staleMs: number;
                                } | null;
                            };
                            routes: {
                                id: string;
                                kind: "session" | "address";
                                sessionId: string | null;
                                service: string | null;
                                backend: {
                                    host: string;
                                    port: number;
                                } | null;
                                weight: number;
                                state: "serving" | "staged" | "unresolved";
                                /** @description As the workers serving the endpoint see the route: the worst state any reports. */
                                health?: {
                                    state: "starting" | "healthy" | "unhealthy" | "ejected";
                                    /** @description Worker processes whose fresh report counted. */
                                    reporters: number;
                                    lastProbeAt: string | null;
                                    lastError: string | null;
                                    ejections: number;
                                };
                                /** @description The route's traffic as the worker processes serving the endpoint report it, summed: in flight now, and the last minute. */
                                traffic?: {
                                    /** @description How far back requests, errors and latencies reach. */
                                    windowS: number;
                                    /** @description Requests with an attempt on the route now. */
                                    inflight: number;
                                    /** @description Attempts the route answered or failed in the window. */
                                    requests: number;
                                    /** @description 5xx answers, failed attempts and streams ended by an error. */
                                    errors: number;
                                    errorRate: number | null;
                                    /** @description Arrival to last byte; each figure exact to ±12% (bucketed). */
                                    latencyMs: {
                                        p50: number | null;
                                        p90: number | null;
                                        p99: number | null;
                                    };
                                    /** @description Arrival to the first generated token (streams). */
                                    ttftMs: {
                                        p50: number | null;
                                        p99: number | null;
                                    };
                                };
                            }[];
                            revision: number;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/endpoints/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** One endpoint, with its routes. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            ownerId: string;
                            state: "ACTIVE" | "DELETING" | "DELETED";
                            url: string | null;
                            circuitId: string | null;
                            settings: {
                                access: "token" | "public";
                                balancing: "round-robin" | "random" | "weighted" | "least-inflight" | "prefix" | "llm";
                                headersTimeoutMs: number;
                                healthCheck: {
                                    /** @description Probed with GET. */
                                    path: string;
                                    expectedStatus: number;
                                    intervalMs: number;
                                    timeoutMs: number;
                                    healthyThreshold: number;
                                    unhealthyThreshold: number;
                                    /** @description A new route is not probed (nor served) before this. */
                                    initialDelayMs: number;
                                } | null;
                                retry?: {
                                    /** @description Tries after the first; 0 = never. */
                                    attempts: number;
                                    bufferBytes: number;
                                    budgetPercent: number;
                                    minRetries: number;
                                };
                                passive?: {
                                    consecutiveFailures: number;
                                    baseEjectionMs: number;
                                    maxEjectionMs: number;
                                    maxEjectedPercent: number;
                                };
                                hold?: {
                                    /** @description 0 = answer 503 at once while no route is ready. */
                                    timeoutMs: number;
                                    maxRequests: number;
                                    heartbeatMs: number;
                                };
                                limits?: {
                                    /** @description Requests in flight per worker process; null = unbounded. */
                                    maxConcurrent: number | null;
                                    queue: number;
                                    /** @description Per key, requests per minute; null = none. */
                                    rpm: number | null;
                                    /** @description Per key, prompt + completion tokens per minute; null = none. */
                                    tpm: number | null;
                                };
                                /** @description Longest quiet gap between response chunks. */
                                streamIdleTimeoutMs?: number;
                                maxBodyBytes?: number;
                                slowStartMs?: number;
                                drainGraceMs?: number;
                                affinityHeader?: string | null;
                                engineMetrics?: {
                                    path: string;
                                    intervalMs: number;
                                    staleMs: number;
                                } | null;
                            };
                            routes: {
                                id: string;
                                kind: "session" | "address";
                                sessionId: string | null;
                                service: string | null;
                                backend: {
                                    host: string;
                                    port: number;
                                } | null;
                                weight: number;
                                state: "serving" | "staged" | "unresolved";
                                /** @description As the workers serving the endpoint see the route: the worst state any reports. */
                                health?: {
                                    state: "starting" | "healthy" | "unhealthy" | "ejected";
                                    /** @description Worker processes whose fresh report counted. */
                                    reporters: number;
                                    lastProbeAt: string | null;
                                    lastError: string | null;
                                    ejections: number;
                                };
                                /** @description The route's traffic as the worker processes serving the endpoint report it, summed: in flight now, and the last minute. */
                                traffic?: {
                                    /** @description How far back requests, errors and latencies reach. */
                                    windowS: number;
                                    /** @description Requests with an attempt on the route now. */
                                    inflight: number;
                                    /** @description Attempts the route answered or failed in the window. */
                                    requests: number;
                                    /** @description 5xx answers, failed attempts and streams ended by an error. */
                                    errors: number;
                                    errorRate: number | null;
                                    /** @description Arrival to last byte; each figure exact to ±12% (bucketed). */
                                    latencyMs: {
                                        p50: number | null;
                                        p90: number | null;
                                        p99: number | null;
                                    };
                                    /** @description Arrival to the first generated token (streams). */
                                    ttftMs: {
                                        p50: number | null;
                                        p99: number | null;
                                    };
                                };
                            }[];
                            revision: number;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        /** Delete an endpoint: its URL stops answering. */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            ownerId: string;
                            state: "ACTIVE" | "DELETING" | "DELETED";
                            url: string | null;
                            circuitId: string | null;
                            settings: {
                                access: "token" | "public";
                                balancing: "round-robin" | "random" | "weighted" | "least-inflight" | "prefix" | "llm";
                                headersTimeoutMs: number;
                                healthCheck: {
                                    /** @description Probed with GET. */
                                    path: string;
                                    expectedStatus: number;
                                    intervalMs: number;
                                    timeoutMs: number;
                                    healthyThreshold: number;
                                    unhealthyThreshold: number;
                                    /** @description A new route is not probed (nor served) before this. */
                                    initialDelayMs: number;
                                } | null;
                                retry?: {
                                    /** @description Tries after the first; 0 = never. */
                                    attempts: number;
                                    bufferBytes: number;
                                    budgetPercent: number;
                                    minRetries: number;
                                };
                                passive?: {
                                    consecutiveFailures: number;
                                    baseEjectionMs: number;
                                    maxEjectionMs: number;
                                    maxEjectedPercent: number;
                                };
                                hold?: {
                                    /** @description 0 = answer 503 at once while no route is ready. */
                                    timeoutMs: number;
                                    maxRequests: number;
                                    heartbeatMs: number;
                                };
                                limits?: {
                                    /** @description Requests in flight per worker process; null = unbounded. */
                                    maxConcurrent: number | null;
                                    queue: number;
                                    /** @description Per key, requests per minute; null = none. */
                                    rpm: number | null;
                                    /** @description Per key, prompt + completion tokens per minute; null = none. */
                                    tpm: number | null;
                                };
                                /** @description Longest quiet gap between response chunks. */
                                streamIdleTimeoutMs?: number;
                                maxBodyBytes?: number;
                                slowStartMs?: number;
                                drainGraceMs?: number;
                                affinityHeader?: string | null;
                                engineMetrics?: {
                                    path: string;
                                    intervalMs: number;
                                    staleMs: number;
                                } | null;
                            };
                            routes: {
                                id: string;
                                kind: "session" | "address";
                                sessionId: string | null;
                                service: string | null;
                                backend: {
                                    host: string;
                                    port: number;
                                } | null;
                                weight: number;
                                state: "serving" | "staged" | "unresolved";
                                /** @description As the workers serving the endpoint see the route: the worst state any reports. */
                                health?: {
                                    state: "starting" | "healthy" | "unhealthy" | "ejected";
                                    /** @description Worker processes whose fresh report counted. */
                                    reporters: number;
                                    lastProbeAt: string | null;
                                    lastError: string | null;
                                    ejections: number;
                                };
                                /** @description The route's traffic as the worker processes serving the endpoint report it, summed: in flight now, and the last minute. */
                                traffic?: {
                                    /** @description How far back requests, errors and latencies reach. */
                                    windowS: number;
                                    /** @description Requests with an attempt on the route now. */
                                    inflight: number;
                                    /** @description Attempts the route answered or failed in the window. */
                                    requests: number;
                                    /** @description 5xx answers, failed attempts and streams ended by an error. */
                                    errors: number;
                                    errorRate: number | null;
                                    /** @description Arrival to last byte; each figure exact to ±12% (bucketed). */
                                    latencyMs: {
                                        p50: number | null;
                                        p90: number | null;
                                        p99: number | null;
                                    };
                                    /** @description Arrival to the first generated token (streams). */
                                    ttftMs: {
                                        p50: number | null;
                                        p99: number | null;
                                    };
                                };
                            }[];
                            revision: number;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        /** Change an endpoint: name, settings (applied in place; no request in flight is cut). */
        patch: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        name?: string;
                        settings?: {
                            access?: "token" | "public";
                            balancing?: "round-robin" | "random" | "weighted" | "least-inflight" | "prefix" | "llm";
                            /** @description Longest wait for a response head (time to first token). */
                            headersTimeoutMs?: number;
                            /** @description Active probes of every route; null = passive health only. */
                            healthCheck?: {
                                /** @description Probed with GET. */
                                path?: string;
                                expectedStatus?: number;
                                intervalMs?: number;
                                timeoutMs?: number;
                                healthyThreshold?: number;
                                unhealthyThreshold?: number;
                                /** @description A new route is not probed (nor served) before this. */
                                initialDelayMs?: number;
                            } | null;
                            retry?: {
                                /** @description Tries after the first; 0 = never. */
                                attempts?: number;
                                bufferBytes?: number;
                                budgetPercent?: number;
                                minRetries?: number;
                            };
                            passive?: {
                                consecutiveFailures?: number;
                                baseEjectionMs?: number;
                                maxEjectionMs?: number;
                                maxEjectedPercent?: number;
                            };
                            hold?: {
                                /** @description 0 = answer 503 at once while no route is ready. */
                                timeoutMs?: number;
                                maxRequests?: number;
                                heartbeatMs?: number;
                            };
                            limits?: {
                                /** @description Requests in flight per worker process; null = unbounded. */
                                maxConcurrent?: number | null;
                                queue?: number;
                                /** @description Per key, requests per minute; null = none. */
                                rpm?: number | null;
                                /** @description Per key, prompt + completion tokens per minute; null = none. */
                                tpm?: number | null;
                            };
                            /** @description Longest quiet gap between response chunks. */
                            streamIdleTimeoutMs?: number;
                            maxBodyBytes?: number;
                            slowStartMs?: number;
                            drainGraceMs?: number;
                            affinityHeader?: string | null;
                            engineMetrics?: {
                                path?: string;
                                intervalMs?: number;
                                staleMs?: number;
                            } | null;
                        };
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            ownerId: string;
                            state: "ACTIVE" | "DELETING" | "DELETED";
                            url: string | null;
                            circuitId: string | null;
                            settings: {
                                access: "token" | "public";
                                balancing: "round-robin" | "random" | "weighted" | "least-inflight" | "prefix" | "llm";
                                headersTimeoutMs: number;
                                healthCheck: {
                                    /** @description Probed with GET. */
                                    path: string;
                                    expectedStatus: number;
                                    intervalMs: number;
                                    timeoutMs: number;
                                    healthyThreshold: number;
                                    unhealthyThreshold: number;
                                    /** @description A new route is not probed (nor served) before this. */
                                    initialDelayMs: number;
                                } | null;
                                retry?: {
                                    /** @description Tries after the first; 0 = never. */
                                    attempts: number;
                                    bufferBytes: number;
                                    budgetPercent: number;
                                    minRetries: number;
                                };
                                passive?: {
                                    consecutiveFailures: number;
                                    baseEjectionMs: number;
                                    maxEjectionMs: number;
                                    maxEjectedPercent: number;
                                };
                                hold?: {
                                    /** @description 0 = answer 503 at once while no route is ready. */
                                    timeoutMs: number;
                                    maxRequests: number;
                                    heartbeatMs: number;
                                };
                                limits?: {
                                    /** @description Requests in flight per worker process; null = unbounded. */
                                    maxConcurrent: number | null;
                                    queue: number;
                                    /** @description Per key, requests per minute; null = none. */
                                    rpm: number | null;
                                    /** @description Per key, prompt + completion tokens per minute; null = none. */
                                    tpm: number | null;
                                };
                                /** @description Longest quiet gap between response chunks. */
                                streamIdleTimeoutMs?: number;
                                maxBodyBytes?: number;
                                slowStartMs?: number;
                                drainGraceMs?: number;
                                affinityHeader?: string | null;
                                engineMetrics?: {
                                    path: string;
                                    intervalMs: number;
                                    staleMs: number;
                                } | null;
                            };
                            routes: {
                                id: string;
                                kind: "session" | "address";
                                sessionId: string | null;
                                service: string | null;
                                backend: {
                                    host: string;
                                    port: number;
                                } | null;
                                weight: number;
                                state: "serving" | "staged" | "unresolved";
                                /** @description As the workers serving the endpoint see the route: the worst state any reports. */
                                health?: {
                                    state: "starting" | "healthy" | "unhealthy" | "ejected";
                                    /** @description Worker processes whose fresh report counted. */
                                    reporters: number;
                                    lastProbeAt: string | null;
                                    lastError: string | null;
                                    ejections: number;
                                };
                                /** @description The route's traffic as the worker processes serving the endpoint report it, summed: in flight now, and the last minute. */
                                traffic?: {
                                    /** @description How far back requests, errors and latencies reach. */
                                    windowS: number;
                                    /** @description Requests with an attempt on the route now. */
                                    inflight: number;
                                    /** @description Attempts the route answered or failed in the window. */
                                    requests: number;
                                    /** @description 5xx answers, failed attempts and streams ended by an error. */
                                    errors: number;
                                    errorRate: number | null;
                                    /** @description Arrival to last byte; each figure exact to ±12% (bucketed). */
                                    latencyMs: {
                                        p50: number | null;
                                        p90: number | null;
                                        p99: number | null;
                                    };
                                    /** @description Arrival to the first generated token (streams). */
                                    ttftMs: {
                                        p50: number | null;
                                        p99: number | null;
                                    };
                                };
                            }[];
                            revision: number;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        trace?: never;
    };
    "/v1/endpoints/{id}/usage": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Token usage of the endpoint, total and per key, as the engines reported it (cumulative; requests whose stream was cut count estimated tokens and are flagged). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            endpointId: string;
                            total: {
                                requests: number;
                                promptTokens: number;
                                completionTokens: number;
                                /** @description Prompt tokens the engine served from its prefix cache. */
                                cachedTokens: number;
                                /** @description Requests whose counts are estimates (stream cut). */
                                estimatedRequests: number;
                            };
                            keys: {
                                keyId: string | null;
                                name: string | null;
                                requests: number;
                                promptTokens: number;
                                completionTokens: number;
                                /** @description Prompt tokens the engine served from its prefix cache. */
                                cachedTokens: number;
                                /** @description Requests whose counts are estimates (stream cut). */
                                estimatedRequests: number;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/endpoints/{id}/events": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** What happened to the endpoint and its circuit, oldest first. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Oldest first (the newest 1000). */
                            items: {
                                id: number;
                                /** Format: date-time */
                                at: string;
                                sessionId: string | null;
                                endpointId: string | null;
                                circuitId: string | null;
                                /** @description session-created, session-running, session-terminated, session-error, session-idle-terminated, circuit-opened, circuit-access-changed, circuit-closed, circuit-idle-closed. */
                                kind: string;
                                detail: string;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/endpoints/{id}/routes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /**
         * Replace the routes of an endpoint with the full desired set (idempotent).
         * @description With `If-Match: "<revision>"` nothing changes unless the endpoint is still at that revision (412 AP_ERR_REVISION_MISMATCH otherwise).
         */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        routes: {
                            id?: string;
                            session?: string;
                            service?: string;
                            host?: string;
                            port?: number;
                            /** @description Traffic share; 0 = staged. */
                            weight?: number;
                        }[];
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            ownerId: string;
                            state: "ACTIVE" | "DELETING" | "DELETED";
                            url: string | null;
                            circuitId: string | null;
                            settings: {
                                access: "token" | "public";
                                balancing: "round-robin" | "random" | "weighted" | "least-inflight" | "prefix" | "llm";
                                headersTimeoutMs: number;
                                healthCheck: {
                                    /** @description Probed with GET. */
                                    path: string;
                                    expectedStatus: number;
                                    intervalMs: number;
                                    timeoutMs: number;
                                    healthyThreshold: number;
                                    unhealthyThreshold: number;
                                    /** @description A new route is not probed (nor served) before this. */
                                    initialDelayMs: number;
                                } | null;
                                retry?: {
                                    /** @description Tries after the first; 0 = never. */
                                    attempts: number;
                                    bufferBytes: number;
                                    budgetPercent: number;
                                    minRetries: number;
                                };
                                passive?: {
                                    consecutiveFailures: number;
                                    baseEjectionMs: number;
                                    maxEjectionMs: number;
                                    maxEjectedPercent: number;
                                };
                                hold?: {
                                    /** @description 0 = answer 503 at once while no route is ready. */
                                    timeoutMs: number;
                                    maxRequests: number;
                                    heartbeatMs: number;
                                };
                                limits?: {
                                    /** @description Requests in flight per worker process; null = unbounded. */
                                    maxConcurrent: number | null;
                                    queue: number;
                                    /** @description Per key, requests per minute; null = none. */
                                    rpm: number | null;
                                    /** @description Per key, prompt + completion tokens per minute; null = none. */
                                    tpm: number | null;
                                };
                                /** @description Longest quiet gap between response chunks. */
                                streamIdleTimeoutMs?: number;
                                maxBodyBytes?: number;
                                slowStartMs?: number;
                                drainGraceMs?: number;
                                affinityHeader?: string | null;
                                engineMetrics?: {
                                    path: string;
                                    intervalMs: number;
                                    staleMs: number;
                                } | null;
                            };
                            routes: {
                                id: string;
                                kind: "session" | "address";
                                sessionId: string | null;
                                service: string | null;
                                backend: {
                                    host: string;
                                    port: number;
                                } | null;
                                weight: number;
                                state: "serving" | "staged" | "unresolved";
                                /** @description As the workers serving the endpoint see the route: the worst state any reports. */
                                health?: {
                                    state: "starting" | "healthy" | "unhealthy" | "ejected";
                                    /** @description Worker processes whose fresh report counted. */
                                    reporters: number;
                                    lastProbeAt: string | null;
                                    lastError: string | null;
                                    ejections: number;
                                };
                                /** @description The route's traffic as the worker processes serving the endpoint report it, summed: in flight now, and the last minute. */
                                traffic?: {
                                    /** @description How far back requests, errors and latencies reach. */
                                    windowS: number;
                                    /** @description Requests with an attempt on the route now. */
                                    inflight: number;
                                    /** @description Attempts the route answered or failed in the window. */
                                    requests: number;
                                    /** @description 5xx answers, failed attempts and streams ended by an error. */
                                    errors: number;
                                    errorRate: number | null;
                                    /** @description Arrival to last byte; each figure exact to ±12% (bucketed). */
                                    latencyMs: {
                                        p50: number | null;
                                        p90: number | null;
                                        p99: number | null;
                                    };
                                    /** @description Arrival to the first generated token (streams). */
                                    ttftMs: {
                                        p50: number | null;
                                        p99: number | null;
                                    };
                                };
                            }[];
                            revision: number;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        /** Add a route to an endpoint. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        id?: string;
                        session?: string;
                        service?: string;
                        host?: string;
                        port?: number;
                        /** @description Traffic share; 0 = staged. */
                        weight?: number;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            ownerId: string;
                            state: "ACTIVE" | "DELETING" | "DELETED";
                            url: string | null;
                            circuitId: string | null;
                            settings: {
                                access: "token" | "public";
                                balancing: "round-robin" | "random" | "weighted" | "least-inflight" | "prefix" | "llm";
                                headersTimeoutMs: number;
                                healthCheck: {
                                    /** @description Probed with GET. */
                                    path: string;
                                    expectedStatus: number;
                                    intervalMs: number;
                                    timeoutMs: number;
                                    healthyThreshold: number;
                                    unhealthyThreshold: number;
                                    /** @description A new route is not probed (nor served) before this. */
                                    initialDelayMs: number;
                                } | null;
                                retry?: {
                                    /** @description Tries after the first; 0 = never. */
                                    attempts: number;
                                    bufferBytes: number;
                                    budgetPercent: number;
                                    minRetries: number;
                                };
                                passive?: {
                                    consecutiveFailures: number;
                                    baseEjectionMs: number;
                                    maxEjectionMs: number;
                                    maxEjectedPercent: number;
                                };
                                hold?: {
                                    /** @description 0 = answer 503 at once while no route is ready. */
                                    timeoutMs: number;
                                    maxRequests: number;
                                    heartbeatMs: number;
                                };
                                limits?: {
                                    /** @description Requests in flight per worker process; null = unbounded. */
                                    maxConcurrent: number | null;
                                    queue: number;
                                    /** @description Per key, requests per minute; null = none. */
                                    rpm: number | null;
                                    /** @description Per key, prompt + completion tokens per minute; null = none. */
                                    tpm: number | null;
                                };
                                /** @description Longest quiet gap between response chunks. */
                                streamIdleTimeoutMs?: number;
                                maxBodyBytes?: number;
                                slowStartMs?: number;
                                drainGraceMs?: number;
                                affinityHeader?: string | null;
                                engineMetrics?: {
                                    path: string;
                                    intervalMs: number;
                                    staleMs: number;
                                } | null;
                            };
                            routes: {
                                id: string;
                                kind: "session" | "address";
                                sessionId: string | null;
                                service: string | null;
                                backend: {
                                    host: string;
                                    port: number;
                                } | null;
                                weight: number;
                                state: "serving" | "staged" | "unresolved";
                                /** @description As the workers serving the endpoint see the route: the worst state any reports. */
                                health?: {
                                    state: "starting" | "healthy" | "unhealthy" | "ejected";
                                    /** @description Worker processes whose fresh report counted. */
                                    reporters: number;
                                    lastProbeAt: string | null;
                                    lastError: string | null;
                                    ejections: number;
                                };
                                /** @description The route's traffic as the worker processes serving the endpoint report it, summed: in flight now, and the last minute. */
                                traffic?: {
                                    /** @description How far back requests, errors and latencies reach. */
                                    windowS: number;
                                    /** @description Requests with an attempt on the route now. */
                                    inflight: number;
                                    /** @description Attempts the route answered or failed in the window. */
                                    requests: number;
                                    /** @description 5xx answers, failed attempts and streams ended by an error. */
                                    errors: number;
                                    errorRate: number | null;
                                    /** @description Arrival to last byte; each figure exact to ±12% (bucketed). */
                                    latencyMs: {
                                        p50: number | null;
                                        p90: number | null;
                                        p99: number | null;
                                    };
                                    /** @description Arrival to the first generated token (streams). */
                                    ttftMs: {
                                        p50: number | null;
                                        p99: number | null;
                                    };
                                };
                            }[];
                            revision: number;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/endpoints/{id}/tokens": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** The endpoint's keys (never their secrets). */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                id: string;
                                endpointId: string;
                                name: string;
                                models: string[];
                                /** Format: date-time */
                                createdAt: string;
                                expiresAt: string | null;
                                revokedAt: string | null;
                                state: "live" | "expired" | "revoked";
                                rpm: number | null;
                                tpm: number | null;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        /** Create a bearer key of the endpoint (optionally limited to models and a lifetime); shown once. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        name: string;
                        /** @description Lifetime ("30d", or milliseconds); absent = until revoked. */
                        expiresIn?: string | number;
                        /** @description Model names the key may ask for; absent or empty = any. */
                        models?: string[];
                        /** @description This key's requests per minute, across every worker (else the endpoint's). */
                        rpm?: number | null;
                        /** @description This key's tokens per minute, across every worker (else the endpoint's). */
                        tpm?: number | null;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                201: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            endpointId: string;
                            name: string;
                            models: string[];
                            /** Format: date-time */
                            createdAt: string;
                            expiresAt: string | null;
                            revokedAt: string | null;
                            state: "live" | "expired" | "revoked";
                            rpm: number | null;
                            tpm: number | null;
                            /** @description The bearer key: shown this once. */
                            key: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/endpoints/{id}/tokens/{key}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Revoke an endpoint key: every worker refuses it as soon as the change reaches it. */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                    key: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            endpointId: string;
                            name: string;
                            models: string[];
                            /** Format: date-time */
                            createdAt: string;
                            expiresAt: string | null;
                            revokedAt: string | null;
                            state: "live" | "expired" | "revoked";
                            rpm: number | null;
                            tpm: number | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/endpoints/{id}/routes/{route}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        post?: never;
        /** Remove a route from an endpoint: it gets no new request; requests in flight finish. */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                    route: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            id: string;
                            name: string;
                            ownerId: string;
                            state: "ACTIVE" | "DELETING" | "DELETED";
                            url: string | null;
                            circuitId: string | null;
                            settings: {
                                access: "token" | "public";
                                balancing: "round-robin" | "random" | "weighted" | "least-inflight" | "prefix" | "llm";
                                headersTimeoutMs: number;
                                healthCheck: {
                                    /** @description Probed with GET. */
                                    path: string;
                                    expectedStatus: number;
                                    intervalMs: number;
                                    timeoutMs: number;
                                    healthyThreshold: number;
                                    unhealthyThreshold: number;
                                    /** @description A new route is not probed (nor served) before this. */
                                    initialDelayMs: number;
                                } | null;
                                retry?: {
                                    /** @description Tries after the first; 0 = never. */
                                    attempts: number;
                                    bufferBytes: number;
                                    budgetPercent: number;
                                    minRetries: number;
                                };
                                passive?: {
                                    consecutiveFailures: number;
                                    baseEjectionMs: number;
                                    maxEjectionMs: number;
                                    maxEjectedPercent: number;
                                };
                                hold?: {
                                    /** @description 0 = answer 503 at once while no route is ready. */
                                    timeoutMs: number;
                                    maxRequests: number;
                                    heartbeatMs: number;
                                };
                                limits?: {
                                    /** @description Requests in flight per worker process; null = unbounded. */
                                    maxConcurrent: number | null;
                                    queue: number;
                                    /** @description Per key, requests per minute; null = none. */
                                    rpm: number | null;
                                    /** @description Per key, prompt + completion tokens per minute; null = none. */
                                    tpm: number | null;
                                };
                                /** @description Longest quiet gap between response chunks. */
                                streamIdleTimeoutMs?: number;
                                maxBodyBytes?: number;
                                slowStartMs?: number;
                                drainGraceMs?: number;
                                affinityHeader?: string | null;
                                engineMetrics?: {
                                    path: string;
                                    intervalMs: number;
                                    staleMs: number;
                                } | null;
                            };
                            routes: {
                                id: string;
                                kind: "session" | "address";
                                sessionId: string | null;
                                service: string | null;
                                backend: {
                                    host: string;
                                    port: number;
                                } | null;
                                weight: number;
                                state: "serving" | "staged" | "unresolved";
                                /** @description As the workers serving the endpoint see the route: the worst state any reports. */
                                health?: {
                                    state: "starting" | "healthy" | "unhealthy" | "ejected";
                                    /** @description Worker processes whose fresh report counted. */
                                    reporters: number;
                                    lastProbeAt: string | null;
                                    lastError: string | null;
                                    ejections: number;
                                };
                                /** @description The route's traffic as the worker processes serving the endpoint report it, summed: in flight now, and the last minute. */
                                traffic?: {
                                    /** @description How far back requests, errors and latencies reach. */
                                    windowS: number;
                                    /** @description Requests with an attempt on the route now. */
                                    inflight: number;
                                    /** @description Attempts the route answered or failed in the window. */
                                    requests: number;
                                    /** @description 5xx answers, failed attempts and streams ended by an error. */
                                    errors: number;
                                    errorRate: number | null;
                                    /** @description Arrival to last byte; each figure exact to ±12% (bucketed). */
                                    latencyMs: {
                                        p50: number | null;
                                        p90: number | null;
                                        p99: number | null;
                                    };
                                    /** @description Arrival to the first generated token (streams). */
                                    ttftMs: {
                                        p50: number | null;
                                        p99: number | null;
                                    };
                                };
                            }[];
                            revision: number;
                            /** Format: date-time */
                            createdAt: string;
                            /** Format: date-time */
                            updatedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/status": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Backend.AI's coordinator status: the API version and where browsers reach it. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            api_version: string;
                            advertise_address: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v2/conf": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * Backend.AI's handshake, step 1 (its manager): registers the session and app, answers a token.
         * @description Needs the shared secret (X-BackendAI-Token) unless legacy.allowUnauthenticatedConf is set. The token expires after legacy.confTokenTtl.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        login_session_token?: string | null;
                        kernel_host: string;
                        kernel_port: number;
                        session: {
                            id: string;
                            user_uuid: string;
                        } & {
                            [key: string]: unknown;
                        };
                    } & {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            token: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v2/proxy/auth": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /**
         * Backend.AI's handshake, step 2 (the browser): opens or reuses the app's circuit.
         * @description With Accept: application/json, {redirect_url, reuse}; otherwise a 308 redirect to the setup link. TCP apps answer their address.
         */
        get: {
            parameters: {
                query: {
                    token: string;
                    session_id: string;
                    app: string;
                    protocol?: string;
                    redirect?: string;
                    no_reuse?: string;
                    open_to_public?: string;
                    allowed_client_ips?: string;
                };
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            redirect_url: string;
                            reuse: boolean;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v2/endpoints/bulk": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Creates or syncs many inference endpoints (ids are deployment ids); answers in input order. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        endpoints: ({
                            deployment_id?: string;
                            endpoint_id?: string;
                            version?: string;
                            service_name: string;
                            tags: {
                                session: {
                                    user_uuid: string;
                                } & {
                                    [key: string]: unknown;
                                };
                                endpoint: {
                                    [key: string]: unknown;
                                };
                            } & {
                                [key: string]: unknown;
                            };
                            open_to_public?: boolean;
                            health_check?: ({
                                path?: string;
                                interval?: number;
                                max_retries?: number;
                                max_wait_time?: number;
                                expected_status_code?: number;
                                initial_delay?: number;
                            } & {
                                [key: string]: unknown;
                            }) | null;
                        } & {
                            [key: string]: unknown;
                        })[];
                    } & {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            endpoints: {
                                deployment_id: string;
                                url: string;
                                health_check_enabled: boolean;
                            }[];
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        /** Removes many endpoints; each one on its own (already gone counts as success). */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        endpoints: ({
                            deployment_id?: string;
                            endpoint_id?: string;
                        } & {
                            [key: string]: unknown;
                        })[];
                    } & {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            endpoints: {
                                deployment_id: string;
                                success: boolean;
                                error: string | null;
                            }[];
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v2/endpoints/bulk/routes": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Replaces many endpoints' routes (the authoritative set); per-item success. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        endpoints: ({
                            deployment_id?: string;
                            endpoint_id?: string;
                            routes: ({
                                session_id: string;
                                route_id: string;
                                kernel_host: string;
                                kernel_port: number;
                            } & {
                                [key: string]: unknown;
                            })[];
                        } & {
                            [key: string]: unknown;
                        })[];
                    } & {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            endpoints: {
                                deployment_id: string;
                                success: boolean;
                                error: string | null;
                            }[];
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v2/endpoints/bulk/routes/register": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Adds routes to many endpoints (a route id already there is a no-op). */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        endpoints: ({
                            deployment_id?: string;
                            endpoint_id?: string;
                            routes: ({
                                session_id: string;
                                route_id: string;
                                kernel_host: string;
                                kernel_port: number;
                            } & {
                                [key: string]: unknown;
                            })[];
                        } & {
                            [key: string]: unknown;
                        })[];
                    } & {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            endpoints: {
                                deployment_id: string;
                                success: boolean;
                                error: string | null;
                                registered_route_ids: string[];
                                already_registered_route_ids: string[];
                            }[];
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v2/endpoints/bulk/routes/unregister": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Removes routes from many endpoints by route id (an absent one is a no-op). */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        endpoints: ({
                            deployment_id?: string;
                            endpoint_id?: string;
                            route_ids: string[];
                        } & {
                            [key: string]: unknown;
                        })[];
                    } & {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            endpoints: {
                                deployment_id: string;
                                success: boolean;
                                error: string | null;
                                unregistered_route_ids: string[];
                                already_absent_route_ids: string[];
                            }[];
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v2/endpoints/{id}": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Creates or syncs one inference endpoint (its id is the deployment id). */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        deployment_id?: string;
                        endpoint_id?: string;
                        version?: string;
                        service_name: string;
                        tags: {
                            session: {
                                user_uuid: string;
                            } & {
                                [key: string]: unknown;
                            };
                            endpoint: {
                                [key: string]: unknown;
                            };
                        } & {
                            [key: string]: unknown;
                        };
                        open_to_public?: boolean;
                        health_check?: ({
                            path?: string;
                            interval?: number;
                            max_retries?: number;
                            max_wait_time?: number;
                            expected_status_code?: number;
                            initial_delay?: number;
                        } & {
                            [key: string]: unknown;
                        }) | null;
                    } & {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            success: boolean;
                            endpoint: string;
                            health_check_enabled: boolean;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        /** Removes one endpoint (its URL closes, its keys are revoked); already gone is success. */
        delete: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            success: boolean;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v2/endpoints/{id}/health-check": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        /** Sets or clears an endpoint's health check (Backend.AI's ModelHealthCheck, in seconds). */
        put: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        health_check: ({
                            path?: string;
                            interval?: number;
                            max_retries?: number;
                            max_wait_time?: number;
                            expected_status_code?: number;
                            initial_delay?: number;
                        } & {
                            [key: string]: unknown;
                        }) | null;
                    } & {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            success: boolean;
                            health_check_enabled: boolean;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v2/endpoints/{id}/token": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Mints a key for a user until exp (sent as "BackendAI <token>" or "Bearer <token>"). */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    id: string;
                };
                cookie?: never;
            };
            requestBody: {
                content: {
                    "application/json": {
                        user_uuid: string;
                        exp: string | number;
                    } & {
                        [key: string]: unknown;
                    };
                };
            };
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            token: string;
                        } & {
                            [key: string]: unknown;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/workers": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Known workers; healthy = registered now; draining = gets no new circuits; circuits = live circuits on it. Admins only. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                authority: string;
                                frontendMode: "port" | "wildcard";
                                protocols: ("http" | "tcp")[];
                                portRange: [
                                    number,
                                    number
                                ] | null;
                                wildcardDomain: string | null;
                                publicScheme: "http" | "https";
                                publicHost: string;
                                publicPort: number | null;
                                healthy: boolean;
                                /** @description No new circuits go to a draining worker; its circuits keep running. */
                                draining?: boolean;
                                circuits: number;
                                lastSeenAt: string | null;
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/workers/{authority}/drain": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Drain a worker: no new circuits are allocated to it; its circuits keep running. Admins only. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    authority: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            authority: string;
                            frontendMode: "port" | "wildcard";
                            protocols: ("http" | "tcp")[];
                            portRange: [
                                number,
                                number
                            ] | null;
                            wildcardDomain: string | null;
                            publicScheme: "http" | "https";
                            publicHost: string;
                            publicPort: number | null;
                            healthy: boolean;
                            /** @description No new circuits go to a draining worker; its circuits keep running. */
                            draining?: boolean;
                            circuits: number;
                            lastSeenAt: string | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/workers/{authority}/undrain": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /** Undrain a worker: it gets new circuits again. Admins only. */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path: {
                    authority: string;
                };
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            authority: string;
                            frontendMode: "port" | "wildcard";
                            protocols: ("http" | "tcp")[];
                            portRange: [
                                number,
                                number
                            ] | null;
                            wildcardDomain: string | null;
                            publicScheme: "http" | "https";
                            publicHost: string;
                            publicPort: number | null;
                            healthy: boolean;
                            /** @description No new circuits go to a draining worker; its circuits keep running. */
                            draining?: boolean;
                            circuits: number;
                            lastSeenAt: string | null;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/doctor": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Checks the invariants between SQL (the truth) and KV (its projection and the workers’ keys); lists every violation. Admins only. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            violations: {
                                /** @description Stable kind, e.g. route-missing, route-orphan, worker-gone. */
                                kind: string;
                                /** @description What it is about: circuit/<id>, route/<worker>/<id>, … */
                                subject: string;
                                detail: string;
                            }[];
                            /** Format: date-time */
                            checkedAt: string;
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/templates": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        /** Session templates the agent offers, with availability. */
        get: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            items: {
                                name: string;
                                description: string;
                                available: boolean;
                                unavailableReason: string | null;
                                services: {
                                    name: string;
                                    protocol: "http" | "tcp";
                                }[];
                                /** @description The template's idle defaults (ms; null = never; absent = the configuration's). */
                                idle?: {
                                    connectionIdleTimeoutMs?: number;
                                    circuitIdleTimeoutMs?: number | null;
                                    sessionIdleTimeoutMs?: number | null;
                                };
                            }[];
                        };
                    };
                };
                /** @description Default Response */
                400: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                401: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                403: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                404: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                409: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                500: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                502: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                503: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
                /** @description Default Response */
                504: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content: {
                        "application/json": {
                            /** @description Stable error code (AP_ERR_*); clients match on it. */
                            code: string;
                            message: string;
                            detail?: unknown;
                            requestId: string;
                        };
                    };
                };
            };
        };
        put?: never;
        post?: never;
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
    "/v1/auth/oidc/backchannel-logout": {
        parameters: {
            query?: never;
            header?: never;
            path?: never;
            cookie?: never;
        };
        get?: never;
        put?: never;
        /**
         * The identity provider's back-channel logout (OpenID Connect Back-Channel Logout 1.0).
         * @description Form body `logout_token`. Ends the login sessions of the subject or provider session it names (every worker refuses their cookies); 200, or 400 `{error, error_description}`.
         */
        post: {
            parameters: {
                query?: never;
                header?: never;
                path?: never;
                cookie?: never;
            };
            requestBody?: never;
            responses: {
                /** @description Default Response */
                200: {
                    headers: {
                        [name: string]: unknown;
                    };
                    content?: never;
                };
            };
        };
        delete?: never;
        options?: never;
        head?: never;
        patch?: never;
        trace?: never;
    };
}
export type webhooks = Record<string, never>;
export interface components {
    schemas: never;
    responses: never;
    parameters: never;
    requestBodies: never;
    headers: never;
    pathItems: never;
}
export type $defs = Record<string, never>;
export type operations = Record<string, never>;
