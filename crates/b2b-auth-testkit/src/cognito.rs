//! A Cognito user pool inside moto that mints real Cognito-shaped access tokens.

use serde_json::{Value, json};

use crate::MotoServer;

/// A user pool with one app client and one user in a [`MotoServer`], for tests of Cognito
/// access tokens: moto signs them with its built-in key (`kid: "dummy"`), names the real AWS
/// URL as `iss`, and serves the pool's JWKS locally ([`MotoCognitoPool::jwks_uri`]).
///
/// moto has no `/oauth2/token`: its tokens are user tokens from `AdminInitiateAuth`
/// (`token_use: "access"`, `client_id`, no `aud`).
#[derive(Clone, Debug)]
pub struct MotoCognitoPool {
    endpoint: String,
    pool_id: String,
    client_id: String,
}

const USERNAME: &str = "partner-user";
const PASSWORD: &str = "Correct-Horse-9-Battery";

impl MotoCognitoPool {
    /// Creates the pool, an app client allowed `ADMIN_USER_PASSWORD_AUTH`, and a user.
    ///
    /// # Panics
    /// If moto refuses a call.
    pub async fn create(moto: &MotoServer) -> Self {
        let endpoint = moto.endpoint_url();
        let pool = call(&endpoint, "CreateUserPool", json!({ "PoolName": "partners" })).await;
        let pool_id = text(&pool, "/UserPool/Id");
        let client = call(
            &endpoint,
            "CreateUserPoolClient",
            json!({
                "UserPoolId": pool_id,
                "ClientName": "car-orders",
                "ExplicitAuthFlows": ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            }),
        )
        .await;
        let client_id = text(&client, "/UserPoolClient/ClientId");
        let user =
            json!({ "UserPoolId": pool_id, "Username": USERNAME, "MessageAction": "SUPPRESS" });
        call(&endpoint, "AdminCreateUser", user).await;
        let password = json!({ "UserPoolId": pool_id, "Username": USERNAME, "Password": PASSWORD, "Permanent": true });
        call(&endpoint, "AdminSetUserPassword", password).await;
        Self { endpoint, pool_id, client_id }
    }

    /// The user pool id, `us-east-1_...`.
    pub fn pool_id(&self) -> &str {
        &self.pool_id
    }

    /// The app client's id (the `client_id` claim of its access tokens).
    pub fn client_id(&self) -> &str {
        &self.client_id
    }

    /// The `iss` of the pool's tokens: the real AWS URL.
    pub fn issuer(&self) -> String {
        format!("https://cognito-idp.{}.amazonaws.com/{}", MotoServer::REGION, self.pool_id)
    }

    /// The pool's JWKS as moto serves it, on loopback.
    pub fn jwks_uri(&self) -> String {
        format!("{}/{}/.well-known/jwks.json", self.endpoint, self.pool_id)
    }

    /// A fresh access token of the user through the app client.
    ///
    /// # Panics
    /// If moto refuses the call.
    pub async fn access_token(&self) -> String {
        text(&self.tokens().await, "/AuthenticationResult/AccessToken")
    }

    /// A fresh ID token (`token_use: "id"`, `aud` = the client id).
    ///
    /// # Panics
    /// If moto refuses the call.
    pub async fn id_token(&self) -> String {
        text(&self.tokens().await, "/AuthenticationResult/IdToken")
    }

    async fn tokens(&self) -> Value {
        let request = json!({
            "UserPoolId": self.pool_id,
            "ClientId": self.client_id,
            "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
            "AuthParameters": { "USERNAME": USERNAME, "PASSWORD": PASSWORD },
        });
        call(&self.endpoint, "AdminInitiateAuth", request).await
    }
}

/// The string at `pointer` in a moto reply.
fn text(reply: &Value, pointer: &str) -> String {
    match reply.pointer(pointer).and_then(Value::as_str) {
        Some(text) => text.to_owned(),
        None => panic!("moto reply without {pointer}: {reply}"),
    }
}

/// One Cognito API call. moto routes by the SigV4 credential scope and, with auth off,
/// checks no signature: a well-formed `Authorization` header naming `cognito-idp` is enough.
async fn call(endpoint: &str, operation: &str, body: Value) -> Value {
    let authorization = format!(
        "AWS4-HMAC-SHA256 Credential={}/20260101/{}/cognito-idp/aws4_request, \
         SignedHeaders=host;x-amz-date;x-amz-target, Signature=0",
        MotoServer::ACCESS_KEY_ID,
        MotoServer::REGION
    );
    let response = reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", format!("AWSCognitoIdentityProviderService.{operation}"))
        .header("x-amz-date", "20260101T000000Z")
        .header("authorization", authorization)
        .body(body.to_string())
        .send()
        .await
        .unwrap_or_else(|e| panic!("moto {operation}: {e}"));
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    if !status.is_success() {
        panic!("moto {operation} failed with {status}: {text}");
    }
    serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("moto {operation}: not JSON ({e}): {text}"))
}
