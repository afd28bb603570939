targetScope = 'subscription'

// ---------------------------------------------------------------------------
// Scatter-Gather service: Durable Functions (Node.js 22, TypeScript) on Flex
// Consumption with the Durable Task Scheduler backend. Deploy with `azd up`.
// ---------------------------------------------------------------------------

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used for the resource group name and to derive unique resource names.')
param environmentName string

// Regions that offer both Flex Consumption and the Durable Task Scheduler: the list of Azure's own
// Durable Functions + Durable Task Scheduler + Flex Consumption quickstart
// (Azure-Samples/durable-functions-quickstart-typescript-azd, infra/main.bicep). Conservative: either
// service may be available in more regions; check before adding one (see the README).
@minLength(1)
@description('Primary location for all resources: a region that offers both Flex Consumption and the Durable Task Scheduler.')
@allowed([
  'australiaeast'
  'centralus'
  'eastasia'
  'eastus2'
  'northcentralus'
  'northeurope'
  'southeastasia'
  'swedencentral'
  'uksouth'
  'westus2'
])
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Object id of the developer running azd (AZURE_PRINCIPAL_ID); granted Durable Task Data Contributor on the task hub for the dashboard. Empty = skip.')
param principalId string = ''

@description('Kind of principal in principalId.')
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param principalType string = 'User'

@description('Resource group name override; default rg-<environmentName>.')
param resourceGroupName string = ''

// --- Flex Consumption ------------------------------------------------------
@description('Memory per Flex Consumption instance in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Upper bound of Flex Consumption instances the app may scale out to (Flex Consumption accepts 40 to 1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Optional always-ready instances (billed while idle), e.g. [ { "name": "http", "instanceCount": 1 } ]. Empty = scale to zero.')
param alwaysReady array = []

// --- Durable Task Scheduler -----------------------------------------------
@description('Durable Task Scheduler SKU.')
@allowed([
  'Consumption'
  'Dedicated'
])
param dtsSkuName string = 'Consumption'

// Dedicated: 1 to 3 capacity units of 2,000 actions/s each (3 for high availability); the Consumption SKU
// has no capacity (up to 500 actions/s). learn.microsoft.com/azure/durable-task/scheduler/durable-task-scheduler-billing
@description('Capacity units when dtsSkuName is Dedicated (1-3, 2,000 actions/s each); ignored for Consumption.')
@minValue(1)
@maxValue(3)
param dtsCapacity int = 1

@description('Location of the scheduler (defaults to location).')
param dtsLocation string = location

@description('IP ranges allowed to reach the scheduler endpoint (RBAC still applies). An empty list blocks everything, including the app.')
param dtsIpAllowlist array = [
  '0.0.0.0/0'
]

@description('Task hub name (TASKHUB_NAME).')
@minLength(3)
@maxLength(64)
param taskHubName string = 'scatter-gather'

// --- Application settings ---------------------------------------------------
@description('Comma-separated origins that URL recipients may target. Empty = URL recipients are refused.')
param recipientUrlAllowlist string = ''

@description('Comma-separated queue names (a trailing * matches any rest) of the app\'s storage account that queue recipients may use. Empty = queue recipients are refused.')
param recipientQueueAllowlist string = ''

@description('Maximum recipients per scatter-gather request (at most 15000: every outcome reaches the aggregation in one payload).')
@minValue(1)
@maxValue(15000)
param maxRecipients int = 10000

@description('Maximum bytes kept from one recipient response.')
@minValue(1)
param maxResponseBytes int = 65536

@description('Maximum accepted request body size in bytes.')
@minValue(1)
param maxRequestBytes int = 1048576

@description('Recipients dispatched per fan-out batch.')
@minValue(1)
@maxValue(1000)
param fanoutBatchSize int = 250

@description('Most delivery attempts per gather: recipients × retry.maxAttempts.')
@minValue(1)
param maxAttemptsPerGather int = 50000

@description('The result carries its responses inline while they fit in this many bytes (else read them from responsesUri).')
@minValue(1)
@maxValue(524288)
param resultInlineBytes int = 262144

@description('scheme://host[:port] clients use to reach the app (a gateway or custom domain); empty: the app\'s own host name.')
param publicBaseUrl string = ''

// azd generates the value once per environment and keeps it (.azure/<env>/config.json), so every provision
// reuses it: a new value would invalidate every answer URL (respondUrl) already handed out.
@secure()
@minLength(32)
@description('HMAC key of the capability tokens in answer URLs (ANSWER_TOKEN_SECRET, src/http/answerTokens.ts).')
@metadata({ azd: { type: 'generate', config: { length: 48, noSpecial: true } } })
param answerTokenSecret string

// The same for the close events' signing key; the app setting is `whsec_` + base64 of these bytes.
@secure()
@minLength(32)
@description('Key of the Standard Webhooks signatures of close events (WEBHOOK_SIGNING_SECRET = whsec_ + base64 of it).')
@metadata({ azd: { type: 'generate', config: { length: 48, noSpecial: true } } })
param webhookSigningKey string

// --- Payload store ------------------------------------------------------------
@description('Blob container, in the function app\'s storage account, that holds requests, answers and results (PAYLOAD_CONTAINER).')
@minLength(3)
@maxLength(63)
param payloadContainerName string = 'scatter-gather-payloads'

// At least 6: a gather lives up to 5 days (its completion deadline is at most 432000000 ms), and the rule
// deletes by age, so a shorter retention could delete a running gather's request and answers. The app
// refuses to start with less (src/payload/config.ts, MIN_PAYLOAD_RETENTION_DAYS).
@description('Days after which a lifecycle management rule deletes stored payloads (PAYLOAD_RETENTION_DAYS); at least 6, longer than the longest gather (5 days).')
@minValue(6)
@maxValue(36500)
param payloadRetentionDays int = 30

var abbrs = loadJsonContent('./abbreviations.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
// Container names: 3-63 lowercase letters, digits and hyphens.
var deploymentStorageContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity './core/identity/user-assigned-identity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

// The queue that queue recipients reply on: fixed in the app (src/gather/transports/queue.ts REPLY_QUEUE).
var replyQueueName = 'scatter-gather-replies'

module storage './core/storage/storage-account.bicep' = {
  name: 'storage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    containerNames: [
      deploymentStorageContainerName
      payloadContainerName
    ]
    // Queue recipients' replies (receiveReply); the app also creates it if missing. Its poison queue is made by the
    // Storage-queues extension when a first reply is poisoned.
    queueNames: [
      replyQueueName
    ]
    // Payloads of instances nobody purged (DELETE) go after payloadRetentionDays.
    expiringContainerName: payloadContainerName
    expireAfterDays: payloadRetentionDays
  }
}

module monitoring './core/monitor/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
  }
}

module dts './app/dts.bicep' = {
  name: 'durable-task-scheduler'
  scope: rg
  params: {
    name: '${abbrs.durableTaskSchedulers}${resourceToken}'
    taskHubName: taskHubName
    location: dtsLocation
    tags: tags
    skuName: dtsSkuName
    skuCapacity: dtsCapacity
    ipAllowlist: dtsIpAllowlist
  }
}

module rbac './app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
    storageAccountName: storage.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    schedulerName: dts.outputs.schedulerName
    taskHubName: dts.outputs.taskHubName
  }
}

module api './app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    serviceName: 'api'
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    storageAccountName: storage.outputs.name
    deploymentStorageContainerName: deploymentStorageContainerName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    durableTaskSchedulerEndpoint: dts.outputs.endpoint
    taskHubName: dts.outputs.taskHubName
    instanceMemoryMB: instanceMemoryMB
    maximumInstanceCount: maximumInstanceCount
    alwaysReady: alwaysReady
    recipientUrlAllowlist: recipientUrlAllowlist
    recipientQueueAllowlist: recipientQueueAllowlist
    maxRecipients: maxRecipients
    maxResponseBytes: maxResponseBytes
    maxRequestBytes: maxRequestBytes
    fanoutBatchSize: fanoutBatchSize
    maxAttemptsPerGather: maxAttemptsPerGather
    resultInlineBytes: resultInlineBytes
    publicBaseUrl: publicBaseUrl
    answerTokenSecret: answerTokenSecret
    webhookSigningKey: webhookSigningKey
    payloadContainerName: payloadContainerName
    payloadRetentionDays: payloadRetentionDays
  }
  // The host must be able to read its storage and the deployment container as soon as it starts.
  dependsOn: [
    rbac
  ]
}

// --- Outputs read by azd (stored in .azure/<env>/.env) ----------------------
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name

output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output AZURE_FUNCTION_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output AZURE_FUNCTION_APP_URI string = api.outputs.uri

output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name
output AZURE_DEPLOYMENT_STORAGE_CONTAINER_NAME string = deploymentStorageContainerName
output AZURE_PAYLOAD_CONTAINER_NAME string = payloadContainerName
output AZURE_USER_ASSIGNED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.applicationInsightsConnectionString

output AZURE_DURABLE_TASK_SCHEDULER_NAME string = dts.outputs.schedulerName
output AZURE_DURABLE_TASK_SCHEDULER_ENDPOINT string = dts.outputs.endpoint
output AZURE_DURABLE_TASK_HUB_NAME string = dts.outputs.taskHubName
output AZURE_DURABLE_TASK_DASHBOARD_URL string = 'https://dashboard.durabletask.io/?endpoint=${uriComponent(dts.outputs.endpoint)}&taskhub=${dts.outputs.taskHubName}'
