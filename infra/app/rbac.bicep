metadata description = 'Least-privilege role assignments for the function app identity and, optionally, the deploying user.'

@description('Principal (object) id of the function app user-assigned identity.')
param identityPrincipalId string
@description('Principal (object) id of the developer running azd (AZURE_PRINCIPAL_ID); empty = no developer assignments.')
param userPrincipalId string = ''
@allowed([
  'User'
  'ServicePrincipal'
  'Group'
])
param userPrincipalType string = 'User'

param storageAccountName string
param applicationInsightsName string
param schedulerName string
param taskHubName string

// Built-in role definition ids (identical in every Azure cloud), from the Azure built-in roles reference.
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  durableTaskDataContributor: '0ad04412-c4d5-4796-b79c-f76d14c8d402'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
}

resource storage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource scheduler 'Microsoft.DurableTask/schedulers@2025-11-01' existing = {
  name: schedulerName

  resource taskHub 'taskHubs' existing = {
    name: taskHubName
  }
}

// Functions host storage (AzureWebJobsStorage: keys, leases), the Flex Consumption deployment
// container and the payload store (src/payload: create the container if missing, write, read, list and
// delete blobs), all in this one account.
resource storageBlobDataOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.storageBlobDataOwner)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Queues of AzureWebJobsStorage: the host's own operations (as Azure's Durable Functions + Durable Task Scheduler +
// Flex Consumption quickstart grants them, Azure-Samples/durable-functions-quickstart-typescript-azd, infra/main.bicep:
// "Required for AzureWebJobsStorage host operations"), and the app's: queue recipients' messages put on the
// allowlisted queues (RECIPIENT_QUEUE_ALLOWLIST), the reply queue created if missing and read by receiveReply's
// trigger, its poison queue created by the extension. Scoped to the account: recipient queues are any allowlisted
// names, decided by an app setting; RECIPIENT_QUEUE_ALLOWLIST (empty by default) is what bounds them.
resource storageQueueDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.storageQueueDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Tables: the host's own operations only (Durable state lives in the Durable Task Scheduler).
resource storageTableDataContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, identityPrincipalId, roles.storageTableDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Telemetry ingestion with Microsoft Entra auth (APPLICATIONINSIGHTS_AUTHENTICATION_STRING).
resource appInsightsMetricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, identityPrincipalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Orchestration client and worker calls of the app, scoped to its own task hub only.
resource taskHubDataContributorApp 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(scheduler::taskHub.id, identityPrincipalId, roles.durableTaskDataContributor)
  scope: scheduler::taskHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.durableTaskDataContributor)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Durable Task Scheduler dashboard access for the developer who ran `azd up`.
resource taskHubDataContributorUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(userPrincipalId)) {
  name: guid(scheduler::taskHub.id, userPrincipalId, roles.durableTaskDataContributor)
  scope: scheduler::taskHub
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.durableTaskDataContributor)
    principalId: userPrincipalId
    principalType: userPrincipalType
  }
}
