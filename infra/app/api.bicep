metadata description = 'Flex Consumption plan (FC1) and the Linux function app running the Scatter-Gather Durable Functions app (Node.js 22).'

param name string
param planName string
param location string = resourceGroup().location
param tags object = {}

@description('azd service name from azure.yaml; azd finds the app to deploy to by this tag.')
param serviceName string = 'api'

// Identity and dependencies
param identityId string
param identityClientId string
param storageAccountName string
param deploymentStorageContainerName string
param applicationInsightsName string
param durableTaskSchedulerEndpoint string
param taskHubName string

// Flex Consumption scale settings
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048
@description('Flex Consumption accepts 40 to 1000.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100
@description('Always-ready instances, e.g. [ { name: \'http\', instanceCount: 1 }, { name: \'durable\', instanceCount: 1 } ]. Empty = scale to zero (pure pay-per-execution).')
param alwaysReady array = []

// Application settings read by the code in src/
param recipientUrlAllowlist string = ''
param recipientQueueAllowlist string = ''
param maxRecipients int = 10000
param maxResponseBytes int = 65536
param maxRequestBytes int = 1048576
param fanoutBatchSize int = 250
param maxAttemptsPerGather int = 50000
param resultInlineBytes int = 262144
param publicBaseUrl string = ''
@secure()
@description('HMAC key of answer URLs\' capability tokens (ANSWER_TOKEN_SECRET).')
param answerTokenSecret string
@secure()
@description('Key of close events\' webhook signatures; set as WEBHOOK_SIGNING_SECRET = whsec_ + base64.')
param webhookSigningKey string
@description('Payload store container (src/payload), created by the storage module.')
param payloadContainerName string = 'scatter-gather-payloads'
@description('Days the storage lifecycle rule keeps payloads; at least 6 (the app refuses less at start: a gather lives up to 5 days).')
@minValue(6)
param payloadRetentionDays int = 30

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true // Linux
  }
}

// On Flex Consumption the worker runtime is set by functionAppConfig.runtime (name 'node'),
// which provides FUNCTIONS_WORKER_RUNTIME=node to the app; the platform rejects
// FUNCTIONS_WORKER_RUNTIME (and FUNCTIONS_EXTENSION_VERSION) as app settings.
var appSettings = {
  // Functions host storage through the user-assigned identity (no keys, shared key access is off):
  // keys/leases, the deployment package and, read by src/payload with these same settings, the payload
  // container; the identity may also use the account's queues (the host's, queue recipients' and the reply queue)
  // and tables (the host's) (rbac.bicep). Durable Functions state lives in the Durable Task Scheduler, not in Azure Storage.
  AzureWebJobsStorage__accountName: storage.name
  AzureWebJobsStorage__blobServiceUri: storage.properties.primaryEndpoints.blob
  // Queue recipients' messages (src/queues) and the reply queue's trigger (receiveReply) use the Queue service.
  AzureWebJobsStorage__queueServiceUri: storage.properties.primaryEndpoints.queue
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId

  // Durable Task Scheduler (host.json: storageProvider.connectionStringName, hubName %TASKHUB_NAME%)
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableTaskSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'
  TASKHUB_NAME: taskHubName

  // Application Insights with Microsoft Entra authentication (local auth is disabled on the component)
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'

  // Scatter-Gather limits
  RECIPIENT_URL_ALLOWLIST: recipientUrlAllowlist
  // Queue names queue recipients may use (empty: none)
  RECIPIENT_QUEUE_ALLOWLIST: recipientQueueAllowlist
  MAX_RECIPIENTS: string(maxRecipients)
  MAX_RESPONSE_BYTES: string(maxResponseBytes)
  MAX_REQUEST_BYTES: string(maxRequestBytes)
  FANOUT_BATCH_SIZE: string(fanoutBatchSize)
  MAX_ATTEMPTS_PER_GATHER: string(maxAttemptsPerGather)
  RESULT_INLINE_BYTES: string(resultInlineBytes)
  // Empty means unset: management URLs and respondUrl then use the app's own host name.
  PUBLIC_BASE_URL: publicBaseUrl
  // Answer URLs (respondUrl): the HMAC key of their capability tokens.
  ANSWER_TOKEN_SECRET: answerTokenSecret
  // Close events (onClose): the Standard Webhooks secret format.
  WEBHOOK_SIGNING_SECRET: 'whsec_${base64(webhookSigningKey)}'

  // Payload store (src/payload): blobs in the same account, through the AzureWebJobsStorage__* identity settings
  PAYLOAD_CONTAINER: payloadContainerName
  PAYLOAD_RETENTION_DAYS: string(payloadRetentionDays)
}

resource functionApp 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    // No ftpsState: Flex Consumption has no FTP(S) endpoint, and regions that validate it reject the
    // property (ARM error 51021).
    siteConfig: {
      minTlsVersion: '1.2'
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storage.properties.primaryEndpoints.blob}${deploymentStorageContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        alwaysReady: alwaysReady
      }
      runtime: {
        name: 'node'
        version: '22'
      }
    }
  }

  resource appSettingsConfig 'config' = {
    name: 'appsettings'
    properties: appSettings
  }
}

output name string = functionApp.name
output id string = functionApp.id
output uri string = 'https://${functionApp.properties.defaultHostName}'
output planName string = plan.name
