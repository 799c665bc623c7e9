//! AWS configuration shared by every client the gateway makes off AWS.

/// The AWS configuration for a compatible endpoint on loopback (moto, the local stack):
/// every service at `endpoint`; such servers accept any credentials, so placeholders
/// stand in when the environment has none.
pub fn endpoint_config(endpoint: &str) -> aws_config::SdkConfig {
    let var = |name: &str, default: &str| std::env::var(name).unwrap_or_else(|_| default.into());
    let credentials = aws_sdk_dynamodb::config::Credentials::new(
        var("AWS_ACCESS_KEY_ID", "local"),
        var("AWS_SECRET_ACCESS_KEY", "local"),
        std::env::var("AWS_SESSION_TOKEN").ok(),
        None,
        "endpoint-override",
    );
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new(var("AWS_REGION", "us-east-1")))
        .endpoint_url(endpoint)
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            credentials,
        ))
        .build()
}
